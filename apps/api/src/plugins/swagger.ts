import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** OpenAPI 3 generated from the route schemas (the TypeBox contracts); Swagger UI at /docs. */
export const swaggerPlugin = fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Booking API',
        version: '1.0.0',
        description:
          'Queue-driven ticket booking. Booking creation answers 202 at once; `Prefer: wait=N` waits for the decision. Errors are application/problem+json (RFC 9457) with a stable `code`.',
      },
      components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } } },
      tags: [
        { name: 'shows', description: 'Shows, tiers and seat maps' },
        { name: 'bookings', description: 'Holding, confirming and cancelling seats' },
        { name: 'admin', description: 'Needs the admin bearer token' },
        { name: 'ops', description: 'Health and metrics' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
});
