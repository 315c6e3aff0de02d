import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** preHandler for admin routes: `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time. */
export function requireAdmin(token: string) {
  const expected = digest(token);
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new DomainError('UNAUTHORIZED', match ? 'The admin token is not valid' : 'This route needs Authorization: Bearer <admin token>', {
        headers: { 'www-authenticate': 'Bearer realm="booking-admin"' },
      });
    }
  };
}
