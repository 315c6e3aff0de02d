import { readdir, readFile } from 'node:fs/promises';
import postgres from 'postgres';

export const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url);
// Any constant works; every migrator of this schema takes the same one, so concurrent starters queue up.
const MIGRATION_LOCK = 72_410_001;

export interface MigrateLogger {
  info(obj: object, msg: string): void;
}

/** Creates the database named in `url` when it does not exist yet (connecting to `postgres`). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name) throw new Error('DATABASE_URL names no database');
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select 1 as one from pg_database where datname = ${name}`;
    if (row) return false;
    try {
      await sql`create database ${sql(name)}`;
    } catch (err) {
      // Another starter created it between our check and our create.
      if ((err as { code?: string }).code !== '42P04') throw err;
      return false;
    }
    return true;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Applies numbered, forward-only migrations in order, in one transaction held under an
 * advisory lock so two processes starting at once apply each file exactly once.
 */
export async function migrate(url: string, log?: MigrateLogger): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{6}_[\w-]+\.sql$/.test(f)).sort();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const applied: string[] = [];
  try {
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await tx`create table if not exists schema_migrations (
        name text primary key, applied_at timestamptz not null default now())`;
      const done = new Set((await tx`select name from schema_migrations`).map((r) => r.name as string));
      for (const file of files) {
        if (done.has(file)) continue;
        const text = await readFile(new URL(file, MIGRATIONS_DIR), 'utf8');
        await tx.unsafe(text);
        await tx`insert into schema_migrations (name) values (${file})`;
        applied.push(file);
        log?.info({ migration: file }, 'migration applied');
      }
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
  return applied;
}
