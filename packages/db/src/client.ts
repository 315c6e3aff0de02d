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
  return postgres(url, {
    max: opts.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: opts.onNotice ?? (() => {}),
    transform: { column: { from: postgres.toCamel } },
    connection: { application_name: opts.applicationName ?? 'booking' },
  }) as unknown as Sql;
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
