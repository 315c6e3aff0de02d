// `pnpm start`: migrate, then run the API and one worker together; Ctrl-C (or SIGTERM) stops both.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const node = (cwd, script) =>
  spawn(process.execPath, ['--conditions=@booking/source', '--import', 'tsx', script], { cwd: root + cwd, stdio: 'inherit', env: process.env });

const migrate = node('packages/db', 'src/migrate-cli.ts');
const [code] = await new Promise((resolve) => migrate.on('exit', (...args) => resolve(args)));
if (code !== 0) process.exit(code ?? 1);

const children = [node('apps/api', 'src/server.ts'), node('apps/worker', 'src/main.ts')];
let stopping = false;
const stop = (signal) => {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill(signal);
};
process.on('SIGINT', () => stop('SIGTERM'));
process.on('SIGTERM', () => stop('SIGTERM'));
let worst = 0;
await Promise.all(
  children.map(
    (c) =>
      new Promise((resolve) =>
        c.on('exit', (code) => {
          worst = Math.max(worst, code ?? 1);
          stop('SIGTERM'); // one stopped: stop the other too
          resolve();
        }),
      ),
  ),
);
process.exit(stopping ? 0 : worst);
