import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createTestDatabase, deleteRedisPrefix, type TestDatabase } from '@booking/db/testing';

// The real system as processes, for the end-to-end test and `pnpm bench` (not for production).
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const REDIS_URL = 'redis://127.0.0.1:6379';
export const ADMIN_TOKEN = 'loadtest-admin-token';

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** A port nobody listens on right now: listen on 0, read it, close. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Runs a TypeScript entry of the workspace (`dir` relative to its root) as its own process. */
export function spawnTs(dir: string, script: string, env: Record<string, string>, nodeArgs: string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeArgs, '--conditions=@booking/source', '--import', 'tsx', script], {
    cwd: ROOT + dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
  return { child, output: () => out, exited: once(child, 'exit').then(([code]) => code as number | null) };
}

export async function stopProc(p: Proc): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

export interface LocalSystem {
  url: string;
  db: TestDatabase;
  prefix: string;
  api: Proc;
  workers: Proc[];
  /** SIGTERM everything, remove the Redis prefix and the database (kept when keepDb); exit codes of api and workers. */
  stop(keepDb?: boolean): Promise<(number | null)[]>;
}

/**
 * The real system as separate processes, as ops run it: a fresh database cloned from the
 * migrated template, a unique queue prefix, the API on a free loopback port and N workers.
 */
export async function startLocalSystem(
  opts: { workers?: number; workerEnv?: Record<string, string>; /** Node flags for the API and workers, e.g. --cpu-prof. */ nodeArgs?: string[] } = {},
): Promise<LocalSystem> {
  const db = await createTestDatabase();
  const prefix = `lt${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const port = await freePort();
  const common = { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn', WORKER_METRICS_PORT: '0' };
  const api = spawnTs('apps/api', 'src/server.ts', { ...common, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN }, opts.nodeArgs);
  const workers = Array.from({ length: opts.workers ?? 1 }, () => spawnTs('apps/worker', 'src/main.ts', { ...common, ...opts.workerEnv }, opts.nodeArgs));
  const url = `http://127.0.0.1:${port}`;
  const system: LocalSystem = {
    url,
    db,
    prefix,
    api,
    workers,
    async stop(keepDb = false) {
      const codes = await Promise.all([stopProc(api), ...workers.map(stopProc)]);
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        await deleteRedisPrefix(redis, prefix);
      } finally {
        await redis.quit();
      }
      await db.drop(keepDb);
      return codes;
    },
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const dead = [api, ...workers].find((p) => p.child.exitCode !== null);
    if (dead) {
      await system.stop();
      throw new Error(`a process exited with ${dead.child.exitCode} during start:\n${dead.output()}`);
    }
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await system.stop();
      throw new Error(`the API did not get ready in 30 s:\n${api.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return system;
}
