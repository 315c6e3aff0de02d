// Entry: `pnpm db:migrate`. Creates the database when missing, then applies pending migrations.
import Type from 'typebox';
import { pino } from 'pino';
import { DatabaseUrl, LogLevel, parseEnv } from '@booking/contracts';
import { ensureDatabase, migrate } from './migrate.js';

const log = pino({ name: 'migrate' });
try {
  const config = parseEnv(Type.Object({ DATABASE_URL: DatabaseUrl, LOG_LEVEL: LogLevel }), process.env);
  log.level = config.LOG_LEVEL;
  if (await ensureDatabase(config.DATABASE_URL)) log.info('database created');
  const applied = await migrate(config.DATABASE_URL, log);
  log.info({ applied: applied.length }, applied.length ? 'migrations applied' : 'schema up to date');
} catch (err) {
  log.fatal({ err }, 'migration failed');
  process.exitCode = 1;
}
