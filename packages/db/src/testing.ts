import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import postgres from 'postgres';
import { MIGRATIONS_DIR, migrate } from './migrate.js';

const TEMPLATE_LOCK = 72_410_002;

export interface TestDatabase {
  url: string;
  name: string;
  /** Drops the database; pass keep=true to leave a failed test's database for inspection. */
  drop(keep?: boolean): Promise<void>;
}

const withDbName = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/**
 * A fresh database for one test file, cloned from a template that is migrated once per schema
 * version (the template's name carries a hash of the migrations, so a changed migration gets a
 * new template). Cloning a template is far faster than migrating every time.
 */
export async function createTestDatabase(serverUrl = 'postgres://postgres@127.0.0.1:5432/postgres'): Promise<TestDatabase> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(await readFile(new URL(f, MIGRATIONS_DIR)));
  const template = `booking_tpl_${hash.digest('hex').slice(0, 12)}`;
  const name = `booking_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(withDbName(serverUrl, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    await admin`select pg_advisory_lock(${TEMPLATE_LOCK})`;
    try {
      const [exists] = await admin`select 1 from pg_database where datname = ${template}`;
      if (!exists) {
        const building = `${template}_build_${randomBytes(3).toString('hex')}`;
        await admin`create database ${admin(building)}`;
        await migrate(withDbName(serverUrl, building));
        await admin`alter database ${admin(building)} rename to ${admin(template)}`;
      }
      await admin`create database ${admin(name)} template ${admin(template)}`;
    } finally {
      await admin`select pg_advisory_unlock(${TEMPLATE_LOCK})`;
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    url: withDbName(serverUrl, name),
    name,
    async drop(keep = false) {
      if (keep) return;
      const sql = postgres(withDbName(serverUrl, 'postgres'), { max: 1, onnotice: () => {} });
      try {
        await sql`drop database if exists ${sql(name)} with (force)`;
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}
