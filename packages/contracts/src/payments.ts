/**
 * The payment provider behind the worker's confirm and cancel. Both calls are idempotent by
 * `key` (the booking id): a replayed confirm or cancel never charges or refunds twice.
 */
export interface PaymentProvider {
  charge(req: { key: string; token: string; amountCents: number; currency: string }): Promise<ChargeResult>;
  refund(req: { key: string; chargeReference: string; amountCents: number; currency: string }): Promise<{ reference: string }>;
}

export type ChargeResult = { ok: true; reference: string } | { ok: false; code: string; message: string };
