// Dev aid: start the real system by hand and leave it running:
//   WORKERS=2 node --conditions=@booking/source --import tsx test/helpers/manual-system.ts
// prints the URL and admin token; SIGINT/SIGTERM stops everything and drops the database.
import { ADMIN_TOKEN, startLocalSystem } from '../../src/local-system.js';

const workers = Number(process.env.WORKERS ?? 1);
const sys = await startLocalSystem({ workers });
process.stdout.write(`${JSON.stringify({ url: sys.url, adminToken: ADMIN_TOKEN, db: sys.db.name, prefix: sys.prefix, workers, pids: [sys.api, ...sys.workers].map((p) => p.child.pid) })}\n`);
for (const p of [sys.api, ...sys.workers]) {
  p.child.on('exit', (code, signal) => process.stdout.write(`pid ${p.child.pid} exited (${code ?? signal}) at ${new Date().toISOString()}:\n${p.output()}\n`));
}
const shutdown = async () => {
  const codes = await sys.stop();
  process.stdout.write(`stopped: exit codes ${codes.join(',')}\n`);
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
