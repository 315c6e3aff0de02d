// Worker entry: parses env once, wires real clients into the processors, attaches show queues.
import closeWithGrace from 'close-with-grace';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ShowQueues, redisKeys } from '@booking/contracts';
import { createSql } from '@booking/db';
import { loadWorkerConfig } from './config.js';
import { MockPaymentProvider } from './payments.js';
import { createProcessor, runSweep } from './processors/index.js';
import { createRetireJobs } from './retire.js';
import { createStatusPublisher } from './status.js';
import { ShowWorkers } from './workers.js';

const log = pino({ name: 'worker' });
let config;
try {
  config = loadWorkerConfig(process.env);
} catch (err) {
  log.fatal((err as Error).message);
  process.exit(1);
}
log.level = config.LOG_LEVEL;

// Workers need maxRetriesPerRequest: null (BullMQ): a Redis blip must delay work, not fail it.
const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, connectionName: 'worker' });
const subscriber = redis.duplicate({ connectionName: 'worker-sub' });
redis.on('error', (err) => log.warn({ err }, 'redis error'));
subscriber.on('error', (err) => log.warn({ err }, 'redis subscriber error'));
// Pool ≥ the jobs in flight: one per attached show at SHOW_CONCURRENCY, plus the sweep.
const sql = createSql(config.DATABASE_URL, { max: config.DB_POOL_SIZE, applicationName: 'booking-worker' });
const keys = redisKeys(config.QUEUE_PREFIX);
const queues = new ShowQueues(redis, config.QUEUE_PREFIX);
// Batching decides commands ahead of their jobs, which is only safe while a show runs one job at a time.
const batchSize = config.SHOW_CONCURRENCY === 1 ? config.BATCH_SIZE : 1;
const deps = { sql, payments: new MockPaymentProvider(), status: createStatusPublisher(redis, keys), queues, log, batchSize, retireJobs: createRetireJobs(redis, queues) };

const workers = new ShowWorkers({
  redis,
  subscriber,
  queues,
  keys,
  prefix: config.QUEUE_PREFIX,
  processor: createProcessor(deps),
  log,
  showConcurrency: config.SHOW_CONCURRENCY,
  idleMs: config.WORKER_IDLE_MS,
  lockMs: config.JOB_LOCK_MS,
});

let sweeping: Promise<unknown> = Promise.resolve();
const sweepTimer = setInterval(() => {
  sweeping = runSweep(deps, { graceMs: config.SWEEP_GRACE_MS }).catch((err) => log.warn({ err }, 'sweep failed'));
}, config.SWEEP_INTERVAL_MS);

closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: log }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'shutting down after an error');
  else log.info({ signal }, 'shutting down: finishing active jobs');
  clearInterval(sweepTimer);
  await workers.close();
  await sweeping;
  await queues.close();
  await sql.end({ timeout: 5 });
  subscriber.disconnect();
  await redis.quit();
  log.info('worker stopped');
});

await workers.start();
log.info({ prefix: config.QUEUE_PREFIX, showConcurrency: config.SHOW_CONCURRENCY, batchSize }, 'worker started');
