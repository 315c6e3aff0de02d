import { createHash } from 'node:crypto';
import type { ChargeResult, PaymentProvider } from '@booking/contracts';

const ref = (prefix: string, key: string) => `${prefix}_${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;

/**
 * Stand-in for a card processor: `tok_visa` is charged, `tok_declined` (and any other token) is
 * declined. Idempotent by key like a real provider's idempotency keys: the same booking always
 * gets the same reference. `calls` counts what reached the "provider", for tests.
 */
export class MockPaymentProvider implements PaymentProvider {
  readonly calls = { charge: 0, refund: 0 };

  async charge(req: { key: string; token: string }): Promise<ChargeResult> {
    this.calls.charge++;
    if (req.token === 'tok_visa') return { ok: true, reference: ref('ch', req.key) };
    if (req.token === 'tok_declined') return { ok: false, code: 'card_declined', message: 'The card was declined' };
    return { ok: false, code: 'invalid_token', message: 'Unknown payment token' };
  }

  async refund(req: { key: string }): Promise<{ reference: string }> {
    this.calls.refund++;
    return { reference: ref('re', req.key) };
  }
}
