import net from 'node:net';
import postgres from 'postgres';

/** Either the process's pool or a transaction: every query function takes one as its first argument. */
export type Sql = postgres.Sql<Record<string, never>>;
export type Executor = Sql | postgres.TransactionSql<Record<string, never>>;

export interface SqlOptions {
  /** Pool size: keep it ≥ the concurrency that uses it (postgres.js slows sharply past that). */
  max?: number;
  applicationName?: string;
  onNotice?: (notice: postgres.Notice) => void;
}

/** One `sql` per process. Result columns arrive camelCased. */
export function createSql(url: string, opts: SqlOptions = {}): Sql {
  const options: postgres.Options<{}> = {
    max: opts.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: opts.onNotice ?? (() => {}),
    transform: { column: { from: postgres.toCamel } },
    connection: { application_name: opts.applicationName ?? 'booking' },
  };
  // `socket` is a postgres.js option its type definitions leave out (src/connection.js createSocket).
  return postgres(url, { ...options, socket: connectCoalescing } as postgres.Options<{}>) as unknown as Sql;
}

/** What postgres.js passes a socket factory: its parsed connection options. */
interface SocketTarget {
  host: string[];
  port: number[];
  path: string | false;
  connect_timeout: number;
}

/**
 * postgres.js's connection, on a socket that sends everything written to it in one event-loop
 * turn with one system call. postgres.js itself writes a statement out as soon as 1 KB of it is
 * pending (and the rest once per turn), so a burst of statements with big parameters — a batch's
 * JSON, arrays of ids, the pieces of a group commit — cost a write each; on loopback each write
 * also does the kernel's delivery to Postgres there and then. Measured in the many-shows bench
 * (strace): some 280 writes a second per worker, most of them about 1 KB. Corking the socket for
 * the rest of the turn lets Node send them with one writev.
 *
 * With a factory postgres.js leaves connecting to us: the first host, or the Unix socket path,
 * within connect_timeout; errors reach postgres.js (and its callers) as they would from its own.
 */
function connectCoalescing(o: SocketTarget): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // postgres.js stops pipelining a transaction's statements (it sends the rest one at a time,
    // each after the previous answer) as soon as a write finds the socket's buffer past its high
    // water mark, which a batch's statement of 16 KB or a turn's corked writes reach at once.
    const writableHighWaterMark = 1024 * 1024;
    // (A stream option Node's Socket takes; its type definitions leave it out.)
    const socket = new net.Socket({ writableHighWaterMark } as net.SocketConstructorOpts);
    if (o.path) socket.connect(o.path);
    else socket.connect(o.port[0]!, o.host[0]!);
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`connect to Postgres timed out after ${o.connect_timeout} s`), { code: 'CONNECT_TIMEOUT' }));
    }, o.connect_timeout * 1000);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      const write = socket.write;
      let corked = false;
      socket.write = function (this: net.Socket, ...args: unknown[]) {
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(() => {
            corked = false;
            socket.uncork();
          });
        }
        return (write as (...a: unknown[]) => boolean).apply(this, args);
      } as typeof socket.write;
      resolve(socket);
    });
  });
}

/** SQLSTATEs that mean the server is going away or cannot take us right now. */
const UNREACHABLE_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '53300', // too_many_connections
]);
/** postgres.js and Node socket error codes for a connection that failed or was lost. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
]);

/**
 * The database could not be reached (or dropped us): nothing is wrong with the command itself,
 * so the caller should wait for Postgres rather than spend the command's retries.
 */
export function isDbUnreachable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  // Class 08: connection exception.
  return code.startsWith('08') || UNREACHABLE_STATES.has(code) || UNREACHABLE_CODES.has(code);
}

/** Errors worth retrying: the same command may well succeed a moment later. */
export function isTransientDbError(err: unknown): boolean {
  if (isDbUnreachable(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01' || code === '55P03'; // serialization, deadlock, lock_not_available
}

/** One round trip: resolves when Postgres answers a query. */
export async function pingDb(sql: Sql): Promise<void> {
  await sql`select 1`;
}

/** A postgres.js query: it runs when first awaited, through handle() (postgres.js 3, src/query.js). */
type LazyQuery = PromiseLike<unknown> & { handle(): unknown };

/**
 * Runs several pieces of work on one transaction, each with its own sequence of statements, and
 * sends their statements in lockstep: a statement a piece asks for is held until no statement
 * sent earlier is still unanswered, then every held one leaves at once. postgres.js writes to the
 * socket once per event-loop turn with statements to send, and the pieces' answers arrive over
 * many turns; unsynchronised, 40 pieces of five steps each cost the transaction some 70 socket
 * writes, each a system call that hands the bytes to Postgres there and then (measured with
 * /proc/<pid>/io in the many-shows bench). In lockstep it is one write per step. Settles like
 * settleAll.
 */
export async function settleInLockstep<T>(tx: Executor, works: readonly ((tx: Executor) => Promise<T>)[]): Promise<T[]> {
  const held: LazyQuery[] = [];
  let unanswered = 0;
  let scheduled = false;
  const answered = () => {
    if (--unanswered === 0) schedule();
  };
  // After the turn's continuations have run: the pieces answered have asked for their next statement.
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (unanswered > 0) return;
      const batch = held.splice(0);
      unanswered += batch.length;
      for (const q of batch) {
        Object.getPrototypeOf(q).handle.call(q);
        q.then(answered, answered);
      }
    });
  };
  const lockstep = new Proxy(tx, {
    apply(target, self, args: unknown[]) {
      const q = Reflect.apply(target as (...a: unknown[]) => unknown, self, args) as LazyQuery;
      // Only tagged-template statements; helpers (tx(rows, 'col')) pass through untouched.
      if (!Array.isArray(args[0]) || !('raw' in args[0])) return q;
      let asked = false;
      q.handle = () => {
        if (asked) return;
        asked = true;
        held.push(q);
        schedule();
      };
      return q;
    },
  });
  return settleAll(works.map((work) => work(lockstep)));
}

/**
 * Like Promise.all for statements sent together on one transaction, but it waits for every one
 * before rejecting (no statement is left running when the transaction rolls back) and rejects
 * with the error that came first: the cause, not the "transaction is aborted" errors the others
 * then get.
 */
export async function settleAll<T>(pieces: readonly Promise<T>[]): Promise<T[]> {
  let first: { err: unknown } | null = null;
  const results = await Promise.all(
    pieces.map((p) =>
      p.catch((err: unknown) => {
        first ??= { err };
        return undefined as T;
      }),
    ),
  );
  if (first) throw (first as { err: unknown }).err;
  return results;
}
