import Type from 'typebox';
import { ConfigError, DatabaseUrl, LogLevel, QueuePrefix, RedisUrl, parseEnv } from '@booking/contracts';

export const WorkerConfigSchema = Type.Object({
  DATABASE_URL: DatabaseUrl,
  REDIS_URL: RedisUrl,
  QUEUE_PREFIX: QueuePrefix,
  LOG_LEVEL: LogLevel,
  /** Jobs of one show in flight at once across all workers; 1 = strict FIFO per show (leased, drained in rounds). */
  SHOW_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  /** Commands queued back to back decided in one transaction (a drain round's, or one job's); 1 = no batching. */
  BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  /**
   * A show's queue is let go after this long without work. At least 1 s: the API marks a busy
   * show due at most every 250 ms, which is only safe while this is longer (plugins/queues.ts).
   */
  WORKER_IDLE_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 30_000 }),
  /** A crashed worker's job comes back after at most about this long; also a show lease's term (leases.ts). */
  JOB_LOCK_MS: Type.Integer({ minimum: 500, maximum: 600_000, default: 5000 }),
  SWEEP_INTERVAL_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 1000 }),
  /** The sweep leaves holds this recently expired to their delayed job. */
  SWEEP_GRACE_MS: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 2000 }),
  DB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  /**
   * Transactions a worker process runs at once. The commands of other shows that arrive while
   * they run share the next one (group commit). Must be below DB_POOL_SIZE (the sweep needs one).
   */
  TX_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 100, default: 4 }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  /** Port of GET /metrics (Prometheus), on every interface; 0 turns metrics off. */
  WORKER_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 9464 }),
});
export type WorkerConfig = ReturnType<typeof loadWorkerConfig>;

export function loadWorkerConfig(env: Record<string, string | undefined>) {
  const config = parseEnv(WorkerConfigSchema, env);
  if (config.TX_CONCURRENCY >= config.DB_POOL_SIZE) {
    throw new ConfigError(`invalid configuration: TX_CONCURRENCY (${config.TX_CONCURRENCY}) must be below DB_POOL_SIZE (${config.DB_POOL_SIZE}): the sweep needs a connection of its own`);
  }
  return config;
}
