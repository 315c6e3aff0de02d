import Type, { type Static } from 'typebox';

/** Stable upper-case codes of every problem document the API can answer with, by HTTP status. */
export const ProblemCodes = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  UNAUTHORIZED: 401,
  PAYMENT_DECLINED: 402,
  NOT_FOUND: 404,
  SHOW_NOT_FOUND: 404,
  BOOKING_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  BOOKING_NOT_HELD: 409,
  BOOKING_PENDING: 409,
  BOOKING_EXPIRED: 409,
  BOOKING_FINAL: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  SHOW_BUSY: 503,
  SERVER_BUSY: 503,
  DECISION_TIMEOUT: 503,
} as const;
export type ProblemCode = keyof typeof ProblemCodes;

export const ProblemField = Type.Object({
  path: Type.String({ description: 'JSON pointer of the offending field, e.g. /items/0/quantity' }),
  message: Type.String(),
});
export type ProblemField = Static<typeof ProblemField>;

/** RFC 9457 problem document. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI naming the problem type' }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable upper-case code, see ProblemCodes' }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(ProblemField)),
  },
  { $id: 'Problem', description: 'application/problem+json (RFC 9457)' },
);
export type Problem = Static<typeof Problem>;

export const problemType = (code: string) => `https://booking.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`;
