// API entry: parse env once, build the app, listen, close gracefully on SIGTERM/SIGINT.
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { loadApiConfig } from './config.js';

const bootLog = pino({ name: 'api' });
let loaded;
try {
  loaded = loadApiConfig(process.env);
} catch (err) {
  bootLog.fatal((err as Error).message);
  process.exit(1);
}
const { config, usedDevToken } = loaded;

const app = await buildApp({ config, logger: { level: config.LOG_LEVEL, name: 'api' } });
if (usedDevToken) app.log.warn({ adminToken: config.ADMIN_TOKEN }, 'ADMIN_TOKEN not set: using the development token (never in production)');

closeWithGrace({ delay: 10_000, logger: app.log }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'shutting down after an error');
  else app.log.info({ signal }, 'shutting down');
  await app.close();
});

// A deep accept queue: an on-sale opens thousands of connections in the same second.
await app.listen({ host: config.HOST, port: config.PORT, backlog: 4096 });
