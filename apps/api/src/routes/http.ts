import Type from 'typebox';
import { MAX_WAIT_SECONDS, Problem, ProblemCodes, type ProblemCode } from '@booking/contracts';
import { invalid } from '../errors.js';

/** Response schemas for the error statuses a route can answer with (documented in OpenAPI). */
export function problems(...codes: ProblemCode[]) {
  const out: Record<number, typeof Problem> = {};
  for (const code of [...codes, 'VALIDATION_FAILED', 'SERVICE_UNAVAILABLE'] as ProblemCode[]) {
    out[ProblemCodes[code]] = { ...Problem, description: `application/problem+json (${code}…)` } as typeof Problem;
  }
  return out;
}

export const AdminSecurity = [{ adminToken: [] }];

export const AdminHeaders = Type.Object({ authorization: Type.Optional(Type.String({ description: 'Bearer <ADMIN_TOKEN>' })) });

/** Opaque keyset cursors: base64url of a JSON array. */
export const cursor = {
  encode: (parts: (string | number)[]) => Buffer.from(JSON.stringify(parts)).toString('base64url'),
  /** Each part must pass its check, so nothing a client forged reaches SQL unchecked. */
  decode<T extends string[]>(value: string | undefined, checks: { [K in keyof T]: (part: string) => boolean }): T | undefined {
    if (value === undefined) return undefined;
    try {
      const parts = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown;
      if (
        Array.isArray(parts) &&
        parts.length === checks.length &&
        parts.every((p, i) => typeof p === 'string' && (checks[i] as (part: string) => boolean)(p))
      ) {
        return parts as T;
      }
    } catch {
      // fall through
    }
    throw invalid('The cursor is not one this API gave out', [{ path: '/querystring/cursor', message: 'is not a valid cursor' }]);
  },
};

/** Checks for cursor parts. */
export const isTimestamp = (s: string) => /^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(s) && !Number.isNaN(Date.parse(s));
export const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
// Seat ranks are far below 10^18, which keeps them inside Postgres bigint.
export const isRank = (s: string) => /^\d{1,18}$/.test(s);

/**
 * `Prefer: wait=N` (RFC 7240): seconds to wait, capped at MAX_WAIT_SECONDS; null when absent.
 * Preferences the server does not understand are ignored, as the RFC asks.
 */
export function preferWait(header: string | undefined): number | null {
  if (!header) return null;
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(header);
  return m ? Math.min(Number(m[1]), MAX_WAIT_SECONDS) : null;
}

/** A document's ETag is its version, quoted. */
export const etagOf = (version: number) => `"${version}"`;

/** The version an If-None-Match names (one strong or weak ETag); null when absent or not ours. */
export const versionFromEtag = (header: string | undefined) => {
  const m = header ? /^(?:W\/)?"(\d+)"$/.exec(header.trim()) : null;
  return m ? Number(m[1]) : null;
};
