import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

// No Docker engine runs on our machines, so the stack itself is not started here; the file is
// checked with Debian's docker-compose (its `config` needs no engine) whenever it is installed.
t.test('docker-compose.yml is valid', async (t) => {
  const found = await run('sh', ['-c', 'command -v docker-compose']).then(() => true, () => false);
  if (!found) {
    t.plan(0, 'docker-compose is not installed (apt-get install docker-compose to check the file)');
    return;
  }
  const { stdout } = await run('docker-compose', ['config'], { cwd: ROOT, env: { ...process.env, ADMIN_TOKEN: 'compose-check' } });
  for (const service of ['postgres:', 'redis:', 'migrate:', 'api:', 'worker:']) t.match(stdout, service, `defines ${service.slice(0, -1)}`);
  t.match(stdout, /service_completed_successfully/, 'the apps wait for the migration');
});
