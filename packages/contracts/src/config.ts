import Type, { type Static, type TObject } from 'typebox';
import { Value } from 'typebox/value';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment once, at start: defaults, then string → number/boolean conversion,
 * then unknown variables dropped, then a strict check. The first bad variable is named in the
 * error so the operator knows what to fix. The result is frozen.
 */
export function parseEnv<T extends TObject>(schema: T, env: Record<string, string | undefined>): Readonly<Static<T>> {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && v !== '' && k in schema.properties));
  let value = Value.Default(schema, present);
  value = Value.Convert(schema, value);
  value = Value.Clean(schema, value);
  const errors = [...Value.Errors(schema, value)];
  if (errors.length > 0) {
    const byVariable = new Map<string, string>();
    for (const e of errors) {
      const name = e.instancePath.replace(/^\//, '') || '(env)';
      if (byVariable.has(name)) continue; // the first error of a variable is the clearest one
      const allowed = (schema.properties[name] as { anyOf?: { const?: unknown }[] } | undefined)?.anyOf?.map((s) => s.const);
      const message = allowed?.every((c) => c !== undefined) ? `must be one of ${allowed.join(', ')}` : e.message;
      // Never echo secrets or URLs (they may carry passwords) back into logs.
      const got = name in env && !/TOKEN|PASSWORD|SECRET|URL/.test(name) ? ` (got ${JSON.stringify(env[name])})` : '';
      byVariable.set(name, `${name} ${message}${got}`);
    }
    throw new ConfigError(`invalid configuration: ${[...byVariable.values()].join('; ')}`);
  }
  return Object.freeze(Value.Parse(schema, value)) as Readonly<Static<T>>;
}

export const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
  { default: 'info' },
);
export const DatabaseUrl = Type.String({ pattern: '^postgres(ql)?://', default: 'postgres://postgres@127.0.0.1:5432/booking' });
export const RedisUrl = Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' });
export const QueuePrefix = Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', default: 'bk' });
