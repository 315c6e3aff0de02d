import type { BookingRequest, BookingStatus } from '@booking/contracts';

/** What a buyer does once its booking is HELD. `keep` is what the four shares leave over. */
export type Action = 'confirm' | 'decline' | 'cancel' | 'abandon' | 'keep';
export const ACTIONS: readonly Action[] = ['confirm', 'decline', 'cancel', 'abandon', 'keep'];

export type RetryKind = 'none' | 'concurrent' | 'sequential';

/** Everything one virtual buyer did and saw; the verdict is judged from these and the API. */
export interface BuyerRecord {
  index: number;
  showId: string;
  idempotencyKey: string;
  /** `<runId>:<index>`: finds this buyer's bookings in the admin list. */
  customerRef: string;
  request: BookingRequest;
  quantity: number;
  retry: RetryKind;
  action: Action;
  /** The booking id of every 2xx creation answer, retries included: all must be the same. */
  createdIds: string[];
  bookingId: string | null;
  /** A retry with the same Idempotency-Key and body that was refused (e.g. 422): the API broke its promise. */
  retryRefused: string | null;
  /** When the first 2xx creation answer arrived (ms from the run's start). */
  acceptedAt: number | null;
  /** The decision as this buyer saw it. */
  decision: { status: 'HELD' | 'REJECTED'; code: string | null; at: number; serverMs: number | null } | null;
  expiresAt: string | null;
  /** The last status this buyer saw its booking in. */
  lastStatus: BookingStatus | null;
  /** The answer to its confirm (confirm, decline) or cancel. */
  actionResult: { status: number; code: string | null } | null;
  /** When it saw its abandoned hold EXPIRED; lag from expiresAt, observed and by the server's transition time. */
  release: { observedLagMs: number; serverLagMs: number | null } | null;
  /** Why it stopped early, if it did. */
  failure: string | null;
}
