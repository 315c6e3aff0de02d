import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { createShow, createSql, holdSeats } from '@booking/db';
import { freePort, REDIS_URL, spawnTs, stopProc } from '../local-system.js';

/**
 * Baseline (a): the hold transaction alone — postgres.js against Postgres, no HTTP, no queue —
 * one command per transaction, `concurrency` at a time (pool = concurrency). Decisions/s.
 */
export async function holdTransactionBaseline(dbUrl: string, opts: { concurrency: number; commands: number; capacity: number }): Promise<number> {
  const sql = createSql(dbUrl, { max: opts.concurrency });
  try {
    const show = await createShow(sql, {
      id: randomUUID(),
      name: 'baseline',
      venue: 'bench',
      startsAt: '2030-01-01T00:00:00Z',
      holdTtlSeconds: 600,
      tiers: [{ code: 'GA', name: 'GA', priceCents: 100, currency: 'EUR' }],
      generalAdmission: [{ tier: 'GA', capacity: opts.capacity }],
    });
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (next < opts.commands) {
          next++;
          await holdSeats(sql, {
            bookingId: randomUUID(),
            showId: show.id,
            request: { items: [{ tier: 'GA', quantity: 1 + (next % 4) }] },
            customerRef: null,
            idempotencyKey: null,
            acceptedAt: new Date().toISOString(),
          });
        }
      }),
    );
    return (opts.commands / (performance.now() - t0)) * 1000;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Hammers GET `paths` (round robin) with `clients` keep-alive clients for `seconds`; requests/s and p99. */
export async function hammer(base: string, paths: string[], opts: { clients: number; seconds: number; headers?: (i: number) => Record<string, string> }) {
  const agent = new Agent({ connections: opts.clients, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let i = 0;
  const end = performance.now() + opts.seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      while (performance.now() < end) {
        const n = i++;
        const s = performance.now();
        try {
          const res = await request(base + paths[n % paths.length]!, { dispatcher: agent, headers: opts.headers?.(n % paths.length) ?? {} });
          await res.body.dump();
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        } catch {
          statuses.error = (statuses.error ?? 0) + 1;
        }
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await agent.close();
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / seconds, p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0, statuses };
}

/** Baseline (b): a bare Fastify route answering from one Redis GET, hammered like the polling scenario. */
export async function redisGetBaseline(opts: { clients: number; seconds: number }) {
  const port = await freePort();
  const server = spawnTs('apps/loadtest', 'src/bench/redis-get-server.ts', { PORT: String(port), REDIS_URL });
  try {
    for (let i = 0; ; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false);
      if (up) break;
      if (i > 300) throw new Error(`the baseline server did not start:\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return await hammer(`http://127.0.0.1:${port}`, ['/value'], opts);
  } finally {
    await stopProc(server);
  }
}
