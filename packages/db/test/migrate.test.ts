import postgres from 'postgres';
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { MIGRATIONS_DIR, ensureDatabase, migrate } from '../src/migrate.js';

const SERVER = 'postgres://postgres@127.0.0.1:5432';

t.test('migrations', async (t) => {
  const name = `booking_migrate_${Date.now().toString(36)}`;
  const url = `${SERVER}/${name}`;
  const admin = postgres(`${SERVER}/postgres`, { max: 1, onnotice: () => {} });
  t.teardown(async () => {
    await admin`drop database if exists ${admin(name)} with (force)`;
    await admin.end();
  });

  await t.test('the database is created when it is missing, once', async (t) => {
    t.equal(await ensureDatabase(url), true);
    t.equal(await ensureDatabase(url), false);
  });

  await t.test('two migrators started at once apply each file exactly once', async (t) => {
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    const [a, b] = await Promise.all([migrate(url), migrate(url)]);
    t.equal(a.length + b.length, files.length, 'one of them applied every migration, the other found nothing to do');
    t.ok(a.length === 0 || b.length === 0, 'all of them by one migrator');
    const sql = postgres(url, { max: 1 });
    const rows = await sql`select name from schema_migrations`;
    await sql.end();
    t.same(rows.map((r) => r.name), files);
  });

  await t.test('running them again is harmless', async (t) => {
    t.same(await migrate(url), []);
  });
});
