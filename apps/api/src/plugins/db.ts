import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { createSql, type Sql } from '@booking/db';

declare module 'fastify' {
  interface FastifyInstance {
    sql: Sql;
  }
}

/** One postgres.js pool for the process; the API only reads (and writes show details), never locks rows. */
export const dbPlugin = fp(async (app: FastifyInstance, opts: { url: string; poolSize: number }) => {
  const sql = createSql(opts.url, { max: opts.poolSize, applicationName: 'booking-api' });
  app.decorate('sql', sql);
  app.addHook('onClose', async () => {
    await sql.end({ timeout: 5 });
  });
});
