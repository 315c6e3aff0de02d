// Worker entry: parses env once, wires real clients into the processors, attaches show queues.
import closeWithGrace from 'close-with-grace';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ShowQueues, redisKeys } from '@booking/contracts';
import { createSql, pingDb } from '@booking/db';
import { loadWorkerConfig } from './config.js';
import { DbGate } from './db-gate.js';
import { GroupCommit } from './group-commit.js';
import { createWorkerMetrics, startMetricsServer, type MetricsServer } from './metrics.js';
import { MockPaymentProvider } from './payments.js';
import { createProcessor, drainShow, runSweep } from './processors/index.js';
import { createPeekJobs, createTakeDue } from './peek.js';
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
// Auto-pipelining: the commands every attached show's worker issues in one tick leave in one
// write; profiles showed a worker spending a quarter of its CPU in socket-write syscalls. The
// blocking connections BullMQ duplicates from this one keep their blocking commands apart.
const redis = new Redis(config.REDIS_URL, {
  maxRetriesPerRequest: null,
  connectionName: 'worker',
  enableAutoPipelining: true,
  autoPipeliningIgnoredCommands: ['bzpopmin', 'bzpopmax', 'blmove', 'brpoplpush'],
});
const subscriber = redis.duplicate({ connectionName: 'worker-sub' });
redis.on('error', (err) => log.warn({ err }, 'redis error'));
subscriber.on('error', (err) => log.warn({ err }, 'redis subscriber error'));
// Jobs share TX_CONCURRENCY transactions at a time (group commit), plus one for the sweep.
const sql = createSql(config.DATABASE_URL, { max: config.DB_POOL_SIZE, applicationName: 'booking-worker' });
const keys = redisKeys(config.QUEUE_PREFIX);
const queues = new ShowQueues(redis, config.QUEUE_PREFIX);
// Batching decides commands ahead of their jobs, which is only safe while a show runs one job at a time.
const batchSize = config.SHOW_CONCURRENCY === 1 ? config.BATCH_SIZE : 1;
const metrics = config.WORKER_METRICS_PORT > 0 ? createWorkerMetrics() : undefined;
const groupCommit = new GroupCommit({ sql, log, maxInFlight: config.TX_CONCURRENCY, maxGroup: 64, onCommit: (size) => metrics?.transactionCommitted(size) });
const deps = { sql, transact: groupCommit.run, payments: new MockPaymentProvider(), status: createStatusPublisher(redis, keys, { sql, log }), queues, log, batchSize, peekJobs: createPeekJobs(redis, queues), retireJobs: createRetireJobs(redis, queues), metrics };

// Postgres away: jobs wait for it (queues paused) rather than spend their retries failing.
const gate = new DbGate({ ping: () => pingDb(sql), log });
metrics?.trackDatabase(gate);

const workers = new ShowWorkers({
  redis,
  subscriber,
  queues,
  keys,
  prefix: config.QUEUE_PREFIX,
  processor: createProcessor(deps, gate),
  log,
  showConcurrency: config.SHOW_CONCURRENCY,
  idleMs: config.WORKER_IDLE_MS,
  lockMs: config.JOB_LOCK_MS,
  metrics,
  // Strict FIFO (SHOW_CONCURRENCY=1): shows are drained in rounds; BullMQ workers only for what the drain hands over.
  drain: { takeDue: createTakeDue(redis, config.QUEUE_PREFIX), drainShow: (showId, due) => drainShow(showId, due, deps), report: (err) => gate.report(err), batchSize },
});

gate.onChange((up) => {
  const change = up ? workers.resume() : workers.pause();
  change.catch((err: unknown) => log.error({ err }, up ? 'resuming the queues failed' : 'pausing the queues failed'));
});

let sweeping: Promise<unknown> = Promise.resolve();
let verifying: Promise<unknown> = Promise.resolve();
let checking = false;
const sweepTimer = setInterval(() => {
  if (!gate.up) return;
  sweeping = runSweep(deps, { graceMs: config.SWEEP_GRACE_MS }).catch((err) => {
    if (!gate.report(err)) log.warn({ err }, 'sweep failed');
  });
  // The availability documents' safety net (see StatusPublisher.verify); one check at a time.
  if (checking) return;
  checking = true;
  verifying = deps.status
    .verify()
    .catch((err) => {
      if (!gate.report(err)) log.warn({ err }, 'availability check failed');
    })
    .finally(() => (checking = false));
}, config.SWEEP_INTERVAL_MS);

let metricsServer: MetricsServer | null = null;
if (metrics) {
  try {
    metricsServer = await startMetricsServer(metrics.registry, config.WORKER_METRICS_PORT);
  } catch (err) {
    // Several workers on one host: metrics must not stop the one that came second from working.
    log.warn({ err }, `WORKER_METRICS_PORT ${config.WORKER_METRICS_PORT} is not available: this worker serves no /metrics (give each worker on a host its own port, or 0)`);
  }
}

closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: log }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'shutting down after an error');
  else log.info({ signal }, 'shutting down: finishing active jobs');
  clearInterval(sweepTimer);
  // Jobs waiting for Postgres go back to their queues first, so closing does not wait on them.
  gate.close();
  await workers.close();
  await sweeping;
  await verifying;
  await metricsServer?.close();
  await queues.close();
  await sql.end({ timeout: 5 });
  subscriber.disconnect();
  await redis.quit();
  log.info('worker stopped');
});

await workers.start();
log.info({ prefix: config.QUEUE_PREFIX, showConcurrency: config.SHOW_CONCURRENCY, batchSize, txConcurrency: config.TX_CONCURRENCY, metricsPort: metricsServer?.port ?? null }, 'worker started');
