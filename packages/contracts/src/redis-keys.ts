/**
 * Redis names shared by the API and the worker, all under the deployment's QUEUE_PREFIX so two
 * deployments share one Redis without seeing each other. Braces are not used: the queues of
 * different shows may live on different cluster slots.
 */
export const redisKeys = (prefix: string) => ({
  /** JSON status document of one booking (see Booking). */
  booking: (bookingId: string) => `${prefix}:booking:${bookingId}`,
  /** Idempotency-Key → `${bookingId} ${requestDigest}`. */
  idempotency: (key: string) => `${prefix}:idem:${key}`,
  /** Outcome of one confirm/cancel command, kept a while so a repeated command gets it too. */
  commandResult: (commandId: string) => `${prefix}:result:${commandId}`,
  /** Hash { v, doc }: a show's availability document and its version (see availability.ts). */
  availability: (showId: string) => `${prefix}:avail:${showId}`,
  /** Hash seatId → status of a show's seats that are not AVAILABLE. */
  seatStatus: (showId: string) => `${prefix}:seat-status:${showId}`,
  /** Stream of a show's assigned-seat changes, one entry per availability version. */
  seatLog: (showId: string) => `${prefix}:seat-log:${showId}`,
  /** Pub/sub: a show's availability changed (message: ShowUpdate). */
  showChannel: `${prefix}:show-updates`,
  /** Sorted set showId → the time a worker must next look at the show's queue. */
  activeShows: `${prefix}:active-shows`,
  /** The worker process that has the show's queue attached (strict FIFO: one process at a time). */
  showLease: (showId: string) => `${prefix}:show-lease:${showId}`,
  /** Pub/sub: a show has new work (message: showId). */
  wakeChannel: `${prefix}:wake`,
  /** Pub/sub: a booking's status document changed (message: the document). */
  bookingChannel: `${prefix}:booking-updates`,
  /** Pub/sub: a confirm/cancel was decided (message: CommandResult). */
  resultChannel: `${prefix}:command-results`,
});
export type RedisKeys = ReturnType<typeof redisKeys>;

/** How long status documents and command results stay in Redis once the booking is final. */
export const FINAL_DOC_TTL_SECONDS = 3600;
export const LIVE_DOC_TTL_SECONDS = 7 * 24 * 3600;
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
