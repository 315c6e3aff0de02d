import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { bump } from './stats.js';

/** What a request was for; figures and status counts are kept per kind. */
export type Op = 'setup' | 'create' | 'poll' | 'confirm' | 'cancel' | 'verify';
export const OPS: readonly Op[] = ['setup', 'create', 'poll', 'confirm', 'cancel', 'verify'];

export interface HttpResult<T = unknown> {
  /** HTTP status; 0 when no answer came (see `error`). */
  status: number;
  headers: Record<string, string | undefined>;
  /** The parsed JSON body, when there was one. */
  body: T | null;
  /** The problem document's `code` of an error answer. */
  code: string | null;
  /** From sending to the whole body read. */
  ms: number;
  error: 'timeout' | 'network' | null;
  message: string | null;
}

export interface RequestSpec {
  method: string;
  path: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** Overrides the client's default timeout (e.g. a long-poll's wait plus the timeout). */
  timeoutMs?: number;
  admin?: boolean;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | undefined>;
  text: string;
}

interface Transport {
  readonly name: string;
  send(req: { method: string; path: string; headers: Record<string, string>; body: string | undefined; timeoutMs: number }): Promise<RawResponse>;
  close(): Promise<void>;
}

class TimeoutError extends Error {
  readonly code = 'TIMEOUT';
}

const flatten = (h: Record<string, string | string[] | undefined>) => {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
};

/**
 * undici's Pool: keep-alive connections, the fastest Node HTTP client. Loaded dynamically
 * because the installed undici may not run on this Node version (undici 8 needs Node 22.19).
 */
async function undiciTransport(origin: string, connections: number): Promise<Transport | null> {
  let mod: typeof import('undici');
  try {
    mod = await import('undici');
  } catch {
    return null;
  }
  const pool = new mod.Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  return {
    name: 'undici',
    async send(req) {
      try {
        const res = await pool.request({
          method: req.method as 'GET',
          path: req.path,
          headers: req.headers,
          body: req.body ?? null,
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        });
        return { status: res.statusCode, headers: flatten(res.headers), text: await res.body.text() };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw new TimeoutError(`no answer within ${req.timeoutMs} ms`);
        throw err;
      }
    },
    close: () => pool.close(),
  };
}

/** node:http with a keep-alive agent: the fallback when undici cannot load. */
function nodeTransport(origin: string, connections: number): Transport {
  const url = new URL(origin);
  const lib = url.protocol === 'https:' ? https : http;
  const agent = new lib.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections, scheduling: 'fifo' });
  return {
    name: 'node:http',
    send(req) {
      return new Promise<RawResponse>((resolve, reject) => {
        const r = lib.request(
          { agent, protocol: url.protocol, hostname: url.hostname, port: url.port, method: req.method, path: req.path, headers: req.headers },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              clearTimeout(timer);
              resolve({ status: res.statusCode ?? 0, headers: flatten(res.headers), text: Buffer.concat(chunks).toString('utf8') });
            });
            res.on('error', (err) => {
              clearTimeout(timer);
              reject(err);
            });
          },
        );
        const timer = setTimeout(() => r.destroy(new TimeoutError(`no answer within ${req.timeoutMs} ms`)), req.timeoutMs);
        r.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        r.end(req.body);
      });
    },
    async close() {
      agent.destroy();
    },
  };
}

/**
 * Everything measured about the requests of a run. Times are ms from `t0`; all arrays are
 * appended in completion order and summarised at the end (stats.ts).
 */
export class Recorder {
  #t0 = performance.now();
  /** Per op: answers by HTTP status, plus "timeout" and "network" for requests without one. */
  readonly status = Object.fromEntries(OPS.map((op) => [op, {}])) as Record<Op, Record<string, number>>;
  /** Problem `code`s of error answers, per op. */
  readonly codes = Object.fromEntries(OPS.map((op) => [op, {}])) as Record<Op, Record<string, number>>;
  /** Latencies of answered requests, per op. */
  readonly latency = Object.fromEntries(OPS.map((op) => [op, []])) as unknown as Record<Op, number[]>;
  /** Latencies of creations answered 202 (accepted, not yet decided). */
  readonly acceptLatency: number[] = [];
  /** 5xx answers by "op status code", kept apart because any of them fails the run. */
  readonly serverErrors: Record<string, number> = {};
  readonly firstErrors: string[] = [];
  timeouts = 0;
  networkErrors = 0;
  /** Event times by stream (sent, accepted, held, rejected, polls, errors, released, …). */
  readonly events: Record<string, number[]> = { sent: [], accepted: [], held: [], rejected: [], polls: [], errors: [], released: [] };

  now(): number {
    return performance.now() - this.#t0;
  }

  /** Makes now() count from here (the start of the buyer phase); earlier events are dropped. */
  restart(): void {
    this.#t0 = performance.now();
    for (const k of Object.keys(this.events)) this.events[k] = [];
  }

  event(stream: string, at = this.now()): void {
    (this.events[stream] ??= []).push(at);
  }

  record(op: Op, spec: RequestSpec, res: HttpResult, startedAt: number): void {
    const endedAt = startedAt + res.ms;
    if (op === 'create') this.event('sent', startedAt);
    if (op === 'poll') this.event('polls', endedAt);
    if (res.error) {
      bump(this.status[op], res.error);
      if (res.error === 'timeout') this.timeouts++;
      else this.networkErrors++;
      this.event('errors', endedAt);
      this.note(`${op} ${spec.method} ${spec.path}: ${res.error} (${res.message})`);
      return;
    }
    bump(this.status[op], String(res.status));
    this.latency[op].push(res.ms);
    if (res.code) bump(this.codes[op], res.code);
    if (op === 'create' && res.status === 202) this.acceptLatency.push(res.ms);
    if (op === 'create' && (res.status === 201 || res.status === 202)) this.event('accepted', endedAt);
    if (res.status >= 500) {
      bump(this.serverErrors, `${op} ${res.status} ${res.code ?? '-'}`);
      this.event('errors', endedAt);
      this.note(`${op} ${spec.method} ${spec.path}: ${res.status} ${res.code ?? ''} ${JSON.stringify(res.body)?.slice(0, 300) ?? ''}`);
    }
  }

  note(text: string): void {
    if (this.firstErrors.length < 20) this.firstErrors.push(text);
  }
}

/**
 * The load tester's HTTP client: keep-alive connections, a timeout on every request, and every
 * answer recorded (status, latency, problem code). Never throws for HTTP outcomes: a timeout or
 * a refused connection comes back as status 0 with `error` set.
 */
export class ApiClient {
  readonly recorder: Recorder;
  readonly #transport: Transport;
  readonly #adminToken: string;
  readonly #timeoutMs: number;

  private constructor(transport: Transport, recorder: Recorder, adminToken: string, timeoutMs: number) {
    this.#transport = transport;
    this.recorder = recorder;
    this.#adminToken = adminToken;
    this.#timeoutMs = timeoutMs;
  }

  static async open(opts: { url: string; connections: number; adminToken: string; timeoutMs: number; recorder?: Recorder; transport?: 'undici' | 'node' }): Promise<ApiClient> {
    const origin = new URL(opts.url).origin;
    const transport = (opts.transport !== 'node' && (await undiciTransport(origin, opts.connections))) || nodeTransport(origin, opts.connections);
    return new ApiClient(transport, opts.recorder ?? new Recorder(), opts.adminToken, opts.timeoutMs);
  }

  get transportName(): string {
    return this.#transport.name;
  }

  async request<T = unknown>(op: Op, spec: RequestSpec): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...spec.headers };
    if (spec.admin) headers.authorization = `Bearer ${this.#adminToken}`;
    let body: string | undefined;
    if (spec.json !== undefined) {
      body = JSON.stringify(spec.json);
      headers['content-type'] = 'application/json';
    }
    const startedAt = this.recorder.now();
    const t = performance.now();
    let res: HttpResult<T>;
    try {
      const raw = await this.#transport.send({ method: spec.method, path: spec.path, headers, body, timeoutMs: spec.timeoutMs ?? this.#timeoutMs });
      let parsed: unknown = null;
      if (raw.text) {
        try {
          parsed = JSON.parse(raw.text);
        } catch {
          parsed = null;
        }
      }
      const code = raw.status >= 400 && parsed && typeof parsed === 'object' && typeof (parsed as { code?: unknown }).code === 'string' ? (parsed as { code: string }).code : null;
      res = { status: raw.status, headers: raw.headers, body: parsed as T | null, code, ms: performance.now() - t, error: null, message: null };
    } catch (err) {
      const timeout = err instanceof TimeoutError;
      res = { status: 0, headers: {}, body: null, code: null, ms: performance.now() - t, error: timeout ? 'timeout' : 'network', message: (err as Error).message };
    }
    this.recorder.record(op, spec, res as HttpResult, startedAt);
    return res;
  }

  close(): Promise<void> {
    return this.#transport.close();
  }
}

/** Seconds of a Retry-After header as ms, capped; `fallback` when absent or unreadable. */
export function retryAfterMs(headers: Record<string, string | undefined>, fallback: number, cap = 2000): number {
  const v = headers['retry-after'];
  const s = v === undefined ? NaN : Number(v);
  return Number.isFinite(s) && s >= 0 ? Math.min(cap, s * 1000) : fallback;
}
