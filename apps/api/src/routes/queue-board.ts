import type { FastifyInstance } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { BeforeHook, BullBoardRequest } from '@bull-board/api/typings/app';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import { redisKeys } from '@booking/contracts';
import { listShowNames } from '@booking/db';
import { requireAdminLogin } from '../plugins/auth.js';
import { isUuid } from './http.js';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * Show queues on the board at most: every poll of the page reads a few keys of each, and a
 * venue with thousands of shows would otherwise get a page (and a poll) that large.
 */
export const QUEUE_BOARD_MAX_QUEUES = 200;

const FINISHED = new Set(['completed', 'failed']);

/** The state of the job a board request names, or undefined when there is no such job. */
async function jobState(req: BullBoardRequest): Promise<string | undefined> {
  const job = await req.queues.get(String(req.params.queueName))?.getJob(String(req.params.jobId));
  return job ? job.getState() : undefined;
}

/**
 * Board actions allowed behind the admin token: retrying failed jobs (processors are
 * idempotent), promoting delayed jobs (an expiry that fires early re-delays itself),
 * pausing/resuming a show, and removing finished jobs. Bull Board allows more by default; the
 * rest is refused with 403 because it breaks what the system relies on: adding or editing a
 * job skips the API's validation, changing concurrency or rate limits undoes SHOW_CONCURRENCY
 * (1 = strict FIFO per show), re-prioritizing or re-delaying reorders a show's commands, and
 * emptying a queue or removing an undecided job leaves its booking PENDING for ever. Reads are
 * all allowed.
 */
const ALLOWED_WRITES: Record<string, (req: BullBoardRequest) => boolean | Promise<boolean>> = {
  'put /api/queues/pause': () => true,
  'put /api/queues/resume': () => true,
  'put /api/queues/:queueName/pause': () => true,
  'put /api/queues/:queueName/resume': () => true,
  'put /api/queues/:queueName/promote': () => true,
  'put /api/queues/:queueName/:jobId/promote': () => true,
  'put /api/queues/:queueName/retry/:queueStatus': (req) => req.params.queueStatus === 'failed',
  'put /api/queues/:queueName/:jobId/retry': async (req) => (await jobState(req)) === 'failed',
  'put /api/queues/:queueName/clean/:queueStatus': (req) => FINISHED.has(String(req.params.queueStatus)),
  'put /api/queues/:queueName/:jobId/clean': async (req) => FINISHED.has((await jobState(req)) ?? ''),
};

const guardWrites: BeforeHook = async ({ method, route, request }) => {
  if (method.toLowerCase() === 'get') return;
  const allowed = ALLOWED_WRITES[`${method.toLowerCase()} ${route}`];
  if (!allowed || !(await allowed(request))) {
    return { allow: false, status: 403, message: "Disabled here: it could reorder a show's commands or leave bookings undecided" };
  }
};

/**
 * Bull Board (the BullMQ dashboard) at /admin/queues, behind the admin token (Bearer, or Basic
 * auth with the token as password). Its routes are hidden from the OpenAPI document. Queues are
 * one per show, so the list is rebuilt on each call of the board's API: shows with work now
 * (the active-shows set) first, then the newest shows, at most QUEUE_BOARD_MAX_QUEUES. It reuses
 * the API's Queue objects (one shared Redis connection), opening no connection of its own.
 */
export async function queueBoardRoutes(app: FastifyInstance, opts: { adminToken: string }) {
  const keys = redisKeys(app.showQueues.prefix);
  const serverAdapter = new FastifyAdapter().setBasePath(QUEUE_BOARD_PATH);
  const board = createBullBoard({
    queues: [],
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Booking queues',
        // Workers attach to a show only while it has work, so "no workers" on an idle show is
        // normal; and the check is a CLIENT LIST per queue on every poll.
        showWorkers: false,
      },
      handlerHooks: { before: guardWrites },
    },
  });

  // Adapters are kept per Queue object: ShowQueues hands back the same one until it evicts it
  // (least recently used, past 500 open), and the next refresh picks up its replacement.
  const adapters = new WeakMap<Queue, BullMQAdapter>();
  function adapterFor(showId: string, showName: string | undefined): BullMQAdapter {
    const queue = app.showQueues.get(showId);
    let adapter = adapters.get(queue);
    if (!adapter || adapter.description !== (showName ?? '')) {
      adapter = new BullMQAdapter(queue, { description: showName ?? '' });
      adapters.set(queue, adapter);
    }
    return adapter;
  }

  async function loadQueues(): Promise<void> {
    const active = (await app.redis.zrange(keys.activeShows, '0', String(QUEUE_BOARD_MAX_QUEUES - 1))).filter(isUuid);
    // The queues live in Redis: with Postgres down, the board still shows the active ones.
    const shows = await listShowNames(app.sql, { ids: active, newest: QUEUE_BOARD_MAX_QUEUES }).catch((err: unknown) => {
      app.log.warn({ err }, 'queue board: listing shows failed, showing active shows only');
      return [];
    });
    const names = new Map(shows.map((s) => [s.id, s.name]));
    const showIds = [...new Set([...active, ...shows.map((s) => s.id)])].slice(0, QUEUE_BOARD_MAX_QUEUES);
    board.replaceQueues(showIds.map((id) => adapterFor(id, names.get(id))));
  }

  // Requests that arrive together (the page fires several) share one refresh.
  let loading: Promise<void> | undefined;
  const refresh = () => (loading ??= loadQueues().finally(() => (loading = undefined)));

  // A browser sends cached Basic credentials with cross-site requests too. That is no CSRF hole:
  // every write allowed is a PUT, which another site can only send after a CORS preflight this
  // API never approves.
  app.addHook('onRequest', requireAdminLogin(opts.adminToken));
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.url?.startsWith(`${QUEUE_BOARD_PATH}/api/`)) await refresh();
  });
  // The board's own error handler answers without logging.
  app.addHook('onError', async (request, _reply, err) => {
    if ((err.statusCode ?? 500) >= 500) request.log.error({ err }, 'queue board request failed');
  });
  // Every route this adds is `schema: { hide: true }` (the adapter's own, and @fastify/static's
  // by default), which keeps the board out of /docs/json.
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
}
