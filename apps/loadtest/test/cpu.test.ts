import { spawn } from 'node:child_process';
import t from 'tap';
import { cpuTotals, cpuUsed } from '../src/bench/cpu.js';

// Spins until `ms` of CPU time are used (not wall time: other tests share the cores).
const spin = (ms: number) => {
  const start = process.cpuUsage();
  while ((process.cpuUsage(start).user + process.cpuUsage(start).system) / 1000 < ms);
};

t.test('the bench charges CPU to the process that used it', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  // A child standing in for the API: once told (a line on its stdin), it spins 400 ms of CPU.
  const child = spawn(process.execPath, [
    '-e',
    `process.stdout.write('ready\\n');
     process.stdin.once('data', () => {
       const start = process.cpuUsage();
       while ((process.cpuUsage(start).user + process.cpuUsage(start).system) / 1000 < 400);
       process.stdout.write('done\\n');
     });`,
  ]);
  t.teardown(() => void child.kill());
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  const said = (word: string) =>
    new Promise<void>((resolve) => {
      const check = () => (out.includes(word) ? resolve() : setTimeout(check, 10));
      check();
    });
  const ready = said('ready');
  const done = said('done');
  await ready;
  const pids = { api: child.pid, workers: [undefined] };
  const before = (await cpuTotals(pids))!;
  child.stdin.write('go\n');
  spin(300);
  await done;
  const used = cpuUsed(before, (await cpuTotals(pids))!);
  t.ok(used.api >= 0.35 && used.api <= 0.6, `the child's spin is the API's (${used.api} s)`);
  t.ok(used['load generator'] >= 0.2, `this process's spin is the load generator's (${used['load generator']} s)`);
  t.equal(used.workers, 0, 'no worker processes, nothing charged to them');
  for (const part of ['postgres', 'redis'] as const) t.ok(used[part] >= 0, `${part}: a figure`);
});
