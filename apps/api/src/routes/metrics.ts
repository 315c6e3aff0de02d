import type { FastifyInstance } from 'fastify';

export async function metricsRoutes(app: FastifyInstance) {
  app.get('/metrics', {
    schema: {
      tags: ['ops'],
      summary: 'Prometheus metrics of this API process (text exposition format 0.0.4)',
      response: {
        200: {
          description: 'Prometheus text format (text/plain; version=0.0.4)',
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
      },
    },
  }, async (_request, reply) => {
    const text = await app.metrics.registry.metrics();
    return reply.type(app.metrics.registry.contentType).send(text);
  });
}
