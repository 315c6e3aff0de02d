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

const TRANSIENT = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57P01', // admin_shutdown
  '08000', '08003', '08006', // connection exceptions
  '53300', // too_many_connections
]);

/** Errors worth retrying: the same command may well succeed a moment later. */
export function isTransientDbError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: string; name?: string };
  if (e.code && TRANSIENT.has(e.code)) return true;
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT'].includes(e.code ?? '');
}
