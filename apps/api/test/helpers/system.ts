import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Test } from 'tap';
import { parseEnv, type Booking, type CreateShowBody, type Show } from '@booking/contracts';
import { checkInvariants, createTestDatabase, deleteRedisPrefix, type InvariantReport, type TestDatabase } from '@booking/db/testing';
import { buildApp } from '../../src/app.js';
import { ApiConfigSchema, type ApiConfig } from '../../src/config.js';

export const ADMIN_TOKEN = 'test-admin-token';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether a command is on PATH: tests that need an optional tool (haproxy, promtool…) skip without it. */
export const installed = (command: string) =>
  new Promise<boolean>((resolve) => execFile('sh', ['-c', `command -v ${command}`], (err) => resolve(!err)));

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  await once(srv, 'close');
  return port;
}
/** A redis-server of a test's own on `port` (one it can stop or stall without touching anyone else's). */
export async function startRedisServer(port: number, ...args: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true)); // the port is taken: redis is listening
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (up) return child;
    await sleep(50);
  }
  throw new Error('redis-server did not start');
}

const WORKER_DIR = fileURLToPath(new URL('../../../worker/', import.meta.url));
const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';

export interface HttpResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM (or the given signal), then the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface System {
  url: string;
  app: FastifyInstance;
  db: TestDatabase;
  prefix: string;
  redis: Redis;
  workers: WorkerProcess[];
  startWorker(env?: Record<string, string>): Promise<WorkerProcess>;
  http<T = any>(method: string, path: string, opts?: { body?: unknown; raw?: string; headers?: Record<string, string>; admin?: boolean }): Promise<HttpResponse<T>>;
  createShow(overrides?: Partial<CreateShowBody>): Promise<Show>;
  book(showId: string, body: unknown, headers?: Record<string, string>): Promise<HttpResponse<Booking>>;
  /** Polls GET /v1/bookings/:id (long-poll) until the booking is no longer PENDING. */
  decided(bookingId: string, timeoutMs?: number): Promise<Booking>;
  invariants(showId: string): Promise<InvariantReport>;
}

export const defaultShow = (): CreateShowBody => ({
  name: 'Test show',
  venue: 'Test hall',
  startsAt: '2030-01-01T20:00:00.000Z',
  holdTtlSeconds: 600,
  tiers: [
    { code: 'VIP', name: 'VIP', priceCents: 10_000, currency: 'EUR' },
    { code: 'GA', name: 'General admission', priceCents: 3_000, currency: 'EUR' },
  ],
  seating: [{ section: 'A', tier: 'VIP', rows: 3, seatsPerRow: 4 }],
  generalAdmission: [{ tier: 'GA', capacity: 20 }],
});

/** Starts a worker process (the real apps/worker entry) and waits until it is attached to Redis. */
export async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--conditions=@booking/source', '--import', 'tsx', 'src/main.ts'], {
    cwd: WORKER_DIR,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${out}`)), 20_000);
    const check = () => {
      if (out.includes('worker started')) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`worker exited with ${code} before starting:\n${out}`)));
  });
  return {
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * The real system for one test file: a fresh database cloned from the migrated template, a
 * unique Redis prefix, the API listening on a loopback port, and N worker processes. Everything
 * is removed in teardown (a failed test keeps its database for inspection).
 */
export async function startSystem(
  t: Test,
  opts: { workers?: number; workerEnv?: Record<string, string>; config?: Partial<ApiConfig>; redisUrl?: string } = {},
): Promise<System> {
  const db = await createTestDatabase();
  const prefix = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const REDIS_URL = opts.redisUrl ?? SHARED_REDIS_URL;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const config = {
    ...parseEnv(ApiConfigSchema, { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn', PORT: '0', NODE_ENV: 'test' }),
    ADMIN_TOKEN,
    ...opts.config,
  } as ApiConfig;
  const app = await buildApp({ config, logger: { level: 'warn' } });
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  // Metrics off unless a test asks: parallel test files must not compete for one fixed port.
  const workerEnv = { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: prefix, WORKER_IDLE_MS: '2000', JOB_LOCK_MS: '2000', WORKER_METRICS_PORT: '0', ...opts.workerEnv };
  const workers: WorkerProcess[] = [];

  t.teardown(async () => {
    const codes = await Promise.all(workers.map((w) => w.stop()));
    await app.close();
    await deleteRedisPrefix(redis, prefix);
    await redis.quit();
    await db.drop(!t.passing());
    if (codes.some((c) => c !== 0 && c !== null)) {
      // A worker that did not exit cleanly on SIGTERM is a bug; surface its output.
      throw new Error(`worker exited with ${codes.join(',')}:\n${workers.map((w) => w.output()).join('\n---\n')}`);
    }
  });

  const system: System = {
    url,
    app,
    db,
    prefix,
    redis,
    workers,
    async startWorker(env = {}) {
      const w = await spawnWorker({ ...workerEnv, ...env });
      workers.push(w);
      return w;
    },
    async http(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}), ...o.headers };
      let body: string | undefined = o.raw;
      if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed as never, text };
    },
    async createShow(overrides = {}) {
      const res = await system.http<Show>('POST', '/v1/shows', { admin: true, body: { ...defaultShow(), ...overrides } });
      if (res.status !== 201) throw new Error(`createShow: ${res.status} ${res.text}`);
      return res.body;
    },
    book(showId, body, headers = {}) {
      return system.http<Booking>('POST', `/v1/shows/${showId}/bookings`, { body, headers });
    },
    async decided(bookingId, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let etag: string | null = null;
      while (Date.now() < deadline) {
        const res: HttpResponse<Booking> = await system.http<Booking>('GET', `/v1/bookings/${bookingId}`, {
          headers: { prefer: 'wait=5', ...(etag ? { 'if-none-match': etag } : {}) },
        });
        if (res.status === 200) {
          if (res.body.status !== 'PENDING') return res.body;
          etag = res.headers.get('etag');
        } else if (res.status !== 304) {
          throw new Error(`GET booking ${bookingId}: ${res.status} ${res.text}`);
        }
      }
      throw new Error(`booking ${bookingId} not decided within ${timeoutMs} ms`);
    },
    invariants: (showId) => checkInvariants(db.url, showId),
  };
  for (let i = 0; i < (opts.workers ?? 1); i++) await system.startWorker();
  return system;
}
