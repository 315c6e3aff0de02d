import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, problem } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares a presented token with the admin token in constant time (digests have one length). */
function adminTokenCheck(token: string) {
  const expected = digest(token);
  return (given: string) => timingSafeEqual(digest(given), expected);
}

const bearerToken = (header: string) => /^Bearer (.+)$/i.exec(header)?.[1];

/** The password of `Authorization: Basic base64(user:password)`; the user name is ignored. */
function basicPassword(header: string): string | undefined {
  const encoded = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header)?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/** preHandler for admin routes: `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time. */
export function requireAdmin(token: string) {
  const matches = adminTokenCheck(token);
  return async (request: FastifyRequest) => {
    const given = bearerToken(request.headers.authorization ?? '');
    if (given === undefined || !matches(given)) {
      throw new DomainError('UNAUTHORIZED', given !== undefined ? 'The admin token is not valid' : 'This route needs Authorization: Bearer <admin token>', {
        headers: { 'www-authenticate': 'Bearer realm="booking-admin"' },
      });
    }
  };
}

/**
 * onRequest hook for admin pages a browser opens, which cannot send a Bearer header on
 * navigation: the admin token as Bearer, or as the password of HTTP Basic auth (any user name).
 * A 401 challenges for Basic, so the browser prompts for it. The 401 is sent from here rather
 * than thrown because the routes behind it may have their own error handler (Bull Board's),
 * which would drop the challenge header.
 */
export function requireAdminLogin(token: string) {
  const matches = adminTokenCheck(token);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const given = bearerToken(header) ?? basicPassword(header);
    if (given !== undefined && matches(given)) return;
    const detail = given !== undefined ? 'The admin token is not valid' : 'Log in with any user name and the admin token as password';
    return reply
      .code(401)
      .header('www-authenticate', 'Basic realm="booking-admin"')
      .type('application/problem+json')
      .send({ ...problem('UNAUTHORIZED', detail), instance: request.url });
  };
}
