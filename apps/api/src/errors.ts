import { ProblemCodes, problemType, type Problem, type ProblemCode, type ProblemField } from '@booking/contracts';

/**
 * A business outcome the client must hear about as a 4xx (or a 503 we chose to give). Thrown by
 * handlers, turned into application/problem+json in one place (plugins/problem-json.ts).
 */
export class DomainError extends Error {
  override name = 'DomainError';
  readonly code: ProblemCode;
  readonly status: number;
  readonly errors: ProblemField[] | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ProblemCode, detail: string, opts: { errors?: ProblemField[]; headers?: Record<string, string> } = {}) {
    super(detail);
    this.code = code;
    this.status = ProblemCodes[code];
    this.errors = opts.errors;
    this.headers = opts.headers ?? {};
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(code: ProblemCode, detail: string, errors?: ProblemField[], instance?: string): Problem {
  const status = ProblemCodes[code];
  return {
    type: problemType(code),
    title: TITLES[status] ?? 'Error',
    status,
    code,
    detail,
    ...(instance ? { instance } : {}),
    ...(errors && errors.length ? { errors } : {}),
  };
}

/** 400 with the offending fields. */
export const invalid = (detail: string, errors: ProblemField[]) => new DomainError('VALIDATION_FAILED', detail, { errors });
