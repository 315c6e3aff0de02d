import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';

/**
 * Strict validation: a JSON body is never coerced or stripped — an unknown field or a number sent
 * as a string is a 400. Query strings, path params and headers are text by nature, so only there
 * are numbers converted (`?limit=abc` is still a 400).
 */
export const validationPlugin = fp(async (app: FastifyInstance) => {
  const base: Options = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false };
  const strict = new Ajv({ ...base, coerceTypes: false });
  const textual = new Ajv({ ...base, coerceTypes: true });
  for (const ajv of [strict, textual]) (addFormats as unknown as (a: Ajv) => void)(ajv);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : textual).compile(schema));
});
