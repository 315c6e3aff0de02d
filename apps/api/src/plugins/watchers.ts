import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    watchers: Watchers;
  }
}

export interface Watchers {
  /** Takes a slot for an event stream or a long-poll, or throws 503 SERVER_BUSY; returns the release (idempotent). */
  take(kind?: 'stream' | 'longpoll'): () => void;
  /** Runs `fn` holding a long-poll's slot. */
  during<T>(fn: () => Promise<T>): Promise<T>;
  /** Slots taken now, by kind. */
  readonly open: { stream: number; longpoll: number };
  readonly max: number;
}

/**
 * Caps what one API process holds open for clients that wait (event streams, long-polls): each
 * costs a socket, a timer and its buffers, so a crowd larger than the cap gets a fast 503 with
 * Retry-After (and the load balancer's next instance) instead of growing memory until the
 * process dies.
 */
export const watchersPlugin = fp(async (app: FastifyInstance, opts: { max: number }) => {
  const open = { stream: 0, longpoll: 0 };
  const take = (kind: 'stream' | 'longpoll' = 'longpoll') => {
    if (open.stream + open.longpoll >= opts.max) {
      throw new DomainError('SERVER_BUSY', `This server is following ${opts.max} streams and long-polls already; try again shortly or elsewhere`, {
        headers: { 'retry-after': '2' },
      });
    }
    open[kind]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      open[kind]--;
    };
  };
  app.decorate<Watchers>('watchers', {
    take,
    async during(fn) {
      const release = take();
      try {
        return await fn();
      } finally {
        release();
      }
    },
    get open() {
      return { ...open };
    },
    max: opts.max,
  });
});
