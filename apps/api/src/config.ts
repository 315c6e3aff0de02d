import Type from 'typebox';
import { DatabaseUrl, LogLevel, QueuePrefix, RedisUrl, parseEnv } from '@booking/contracts';

export const DEV_ADMIN_TOKEN = 'dev-admin-token';

export const ApiConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  DATABASE_URL: DatabaseUrl,
  REDIS_URL: RedisUrl,
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 8 })),
  HOLD_TTL_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 600 }),
  QUEUE_PREFIX: QueuePrefix,
  LOG_LEVEL: LogLevel,
  /** Pool ≥ the Postgres reads in flight (show pages, fallbacks, admin lists). */
  DB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 20 }),
  /** How long confirm/cancel wait for the worker's answer before a 503 (the command still runs). */
  COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 10_000 }),
  /** Back-pressure: past this many commands waiting in one show's queue, new bookings get 503. */
  MAX_SHOW_BACKLOG: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 50_000 }),
  /** Event streams and long-polls one API process holds open at once; past it, 503 SERVER_BUSY. */
  MAX_WATCHERS: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
  /** Heartbeat comment interval of event streams (keep it below the load balancer's idle timeout). */
  SSE_HEARTBEAT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 15_000 }),
});

export type ApiConfig = Omit<ReturnType<typeof parseEnv<typeof ApiConfigSchema>>, 'ADMIN_TOKEN'> & { ADMIN_TOKEN: string };

/** Parses the env; ADMIN_TOKEN is required in production and has a logged default elsewhere. */
export function loadApiConfig(env: Record<string, string | undefined>): { config: ApiConfig; usedDevToken: boolean } {
  const parsed = parseEnv(ApiConfigSchema, env);
  if (!parsed.ADMIN_TOKEN && parsed.NODE_ENV === 'production') {
    throw new Error('invalid configuration: ADMIN_TOKEN is required when NODE_ENV=production');
  }
  const usedDevToken = !parsed.ADMIN_TOKEN;
  return { config: Object.freeze({ ...parsed, ADMIN_TOKEN: parsed.ADMIN_TOKEN ?? DEV_ADMIN_TOKEN }), usedDevToken };
}
