import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { ProblemCode, ProblemField } from '@booking/contracts';
import { DomainError, problem } from '../errors.js';

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: { additionalProperty?: string; missingProperty?: string; allowedValues?: unknown[] };
}

/** ajv errors → `errors` of the problem document, each with a JSON pointer into the request. */
export function toProblemFields(context: string, errors: AjvError[]): ProblemField[] {
  const fields: ProblemField[] = [];
  for (const e of errors) {
    let path = e.instancePath;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties' && e.params.additionalProperty) {
      path += `/${e.params.additionalProperty}`;
      message = 'is not a known field';
    } else if (e.keyword === 'required' && e.params.missingProperty) {
      path += `/${e.params.missingProperty}`;
      message = 'is required';
    }
    const pointer = `/${context}${path}`;
    if (!fields.some((f) => f.path === pointer && f.message === message)) fields.push({ path: pointer, message });
  }
  return fields;
}

// Fastify's own errors for things the client sent, by code.
const FASTIFY_CLIENT_ERRORS: Record<string, ProblemCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

/** A dependency (Postgres or Redis) is unreachable: the client should come back, it did nothing wrong. */
function isUnavailable(err: { code?: string; name?: string; message?: string }): boolean {
  const codes = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECT_TIMEOUT', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', '53300'];
  return codes.includes(err.code ?? '') || /Connection is closed|Stream isn't writeable|enableOfflineQueue|max retries per request/i.test(err.message ?? '');
}

/** One error handler: every error leaves as application/problem+json (RFC 9457). */
export const problemJsonPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err: FastifyError & { validationContext?: string }, request, reply) => {
    let body;
    if (err instanceof DomainError) {
      reply.headers(err.headers);
      body = problem(err.code, err.message, err.errors);
    } else if (err.validation) {
      const context = err.validationContext ?? 'body';
      body = problem('VALIDATION_FAILED', `The request ${context} is invalid`, toProblemFields(context, err.validation as AjvError[]));
    } else if (err.code && FASTIFY_CLIENT_ERRORS[err.code]) {
      body = problem(FASTIFY_CLIENT_ERRORS[err.code]!, err.message);
    } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // Any other client error Fastify raised (e.g. prototype poisoning, bad header).
      body = { ...problem('VALIDATION_FAILED', err.message), status: err.statusCode };
    } else if (isUnavailable(err)) {
      request.log.warn({ err }, 'dependency unavailable');
      reply.header('retry-after', '1');
      body = problem('SERVICE_UNAVAILABLE', 'A backing service is unavailable; retry shortly');
    } else {
      request.log.error({ err }, 'unhandled error');
      body = problem('INTERNAL', 'Internal error');
    }
    reply.code(body.status).type('application/problem+json').send({ ...body, instance: request.url });
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .type('application/problem+json')
      .send({ ...problem('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`), instance: request.url });
  });
});
