import http from 'node:http';
import { bump, perSecond, summarize, type Summary } from './stats.js';

/** The crowd that watches rather than books: event streams of the shows, and pollers of their availability. */
export interface AudienceOptions {
  url: string;
  showIds: readonly string[];
  /** Open event streams per show (GET /v1/shows/:id/events). */
  watchers: number;
  /** Clients per show polling GET /v1/shows/:id with If-None-Match, back to back. */
  pollers: number;
  /** Milliseconds between one poller's requests (0: back to back). */
  pollIntervalMs: number;
}

export interface AudienceFigures {
  streams: number;
  /** Streams refused (not 200) or cut off before the end. */
  streamErrors: Record<string, number>;
  events: Record<string, number>;
  /** The worker's publish just after its commit (the event's `at`) → the `seats` event received. */
  sseLagMs: Summary;
  showPolls: number;
  showPollsPerSec: number | null;
  showPollStatuses: Record<string, number>;
}

/** Of every this many streams, one times its events (parsing every event in every stream would load the load generator). */
const LAG_SAMPLE_EVERY = 10;
const PUBLISHED_AT = /"at":(\d+)\}$/m;

/**
 * Opens the audience and keeps it until `stop`. Streams reconnect with Last-Event-ID when the
 * server ends them early, as EventSource does.
 */
export async function startAudience(o: AudienceOptions): Promise<{ stop(): Promise<AudienceFigures> }> {
  const base = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const streamErrors: Record<string, number> = {};
  const events: Record<string, number> = {};
  const lags: number[] = [];
  const statuses: Record<string, number> = {};
  let stopping = false;
  const open = new Set<http.ClientRequest>();
  let streams = 0;

  const stream = (showId: string, index: number) =>
    new Promise<void>((ready) => {
      let lastId: string | null = null;
      const sample = index % LAG_SAMPLE_EVERY === 0;
      const connect = () => {
        if (stopping) return ready();
        const req = http.get(
          { host: base.hostname, port: base.port, path: `/v1/shows/${showId}/events`, agent, headers: { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) } },
          (res) => {
            if (res.statusCode !== 200) {
              bump(streamErrors, String(res.statusCode));
              res.resume();
              ready();
              return;
            }
            streams++;
            ready();
            res.setEncoding('utf8');
            let buffer = '';
            res.on('data', (chunk: string) => {
              buffer += chunk;
              let cut: number;
              while ((cut = buffer.indexOf('\n\n')) >= 0) {
                const block = buffer.slice(0, cut);
                buffer = buffer.slice(cut + 2);
                if (block.startsWith(':')) continue;
                const name = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
                bump(events, name);
                lastId = /^id: (.*)$/m.exec(block)?.[1] ?? lastId;
                if (sample && name === 'seats') {
                  const at = PUBLISHED_AT.exec(block);
                  if (at) lags.push(Date.now() - Number(at[1]));
                }
              }
            });
            res.on('end', () => {
              open.delete(req);
              if (!stopping) {
                bump(streamErrors, 'ended early');
                setTimeout(connect, 100);
              }
            });
          },
        );
        open.add(req);
        req.on('error', () => {
          open.delete(req);
          if (!stopping) bump(streamErrors, 'network');
          ready();
        });
      };
      connect();
    });

  let polls = 0;
  const pollStart = performance.now();
  const poller = async (showId: string) => {
    let etag: string | null = null;
    while (!stopping) {
      const status = await new Promise<number>((resolve) => {
        const req = http.get({ host: base.hostname, port: base.port, path: `/v1/shows/${showId}`, agent, headers: etag ? { 'if-none-match': etag } : {} }, (res) => {
          etag = (res.headers.etag as string | undefined) ?? etag;
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve(0));
      });
      polls++;
      bump(statuses, String(status));
      const pause = status === 0 || status >= 500 ? Math.max(100, o.pollIntervalMs) : o.pollIntervalMs;
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
  };

  // Streams open a few at a time, as a crowd arriving on a page would.
  const opening: Promise<void>[] = [];
  for (const showId of o.showIds) {
    for (let i = 0; i < o.watchers; i++) {
      opening.push(stream(showId, i));
      if (opening.length % 100 === 0) await Promise.all(opening.slice(-100));
    }
  }
  await Promise.all(opening);
  const polling = o.showIds.flatMap((id) => Array.from({ length: o.pollers }, () => poller(id)));

  return {
    async stop() {
      stopping = true;
      const pollMs = performance.now() - pollStart;
      for (const req of open) req.destroy();
      await Promise.all(polling);
      agent.destroy();
      return {
        streams,
        streamErrors,
        events,
        sseLagMs: summarize(lags),
        showPolls: polls,
        showPollsPerSec: perSecond(polls, pollMs),
        showPollStatuses: statuses,
      };
    },
  };
}
