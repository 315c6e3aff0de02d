/** Pure statistics over samples (milliseconds, counts): no clocks, no I/O. */

export interface Summary {
  count: number;
  min: number | null;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface Histogram {
  /** Bucket i holds values in [edges[i], edges[i+1]); the last bucket also takes values ≥ its lower edge. */
  edges: number[];
  counts: number[];
}

export interface Series {
  bucketMs: number;
  /** Start of each bucket, ms from the run's start. */
  t: number[];
  /** Per named stream, events per bucket. */
  counts: Record<string, number[]>;
}

const ascending = (a: number, b: number) => a - b;

/**
 * Nearest-rank percentile of an ascending array: the smallest value with at least p% of the
 * samples at or below it. p in [0, 100]; null for no samples. Never interpolates, so every
 * figure reported is a latency that really happened.
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100 (got ${p})`);
  if (sorted.length === 0) return null;
  // Multiply before dividing, and forgive float noise: 99.9% of 1000 is rank 999, not 1000.
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p * sorted.length) / 100 - 1e-9)));
  return sorted[rank - 1]!;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, min: null, mean: null, p50: null, p95: null, p99: null, max: null };
  const sorted = [...values].sort(ascending);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    min: sorted[0]!,
    mean: sum / sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}

/** 1-2-5 edges from 0 up to the first edge above max (at least two buckets). */
export function niceEdges(max: number, minStep = 0.1): number[] {
  const edges = [0];
  let step = minStep;
  const mantissas = [1, 2, 5];
  let i = 0;
  while (edges[edges.length - 1]! <= max || edges.length < 3) {
    edges.push(+(step * mantissas[i % 3]!).toPrecision(6));
    i++;
    if (i % 3 === 0) step *= 10;
  }
  return edges;
}

/**
 * Counts per bucket. With `edges` omitted they are 1-2-5 steps (0, 0.1, 0.2, 0.5, 1, 2, 5, 10, …):
 * a log-like scale keeps the fast bulk and the slow tail readable in one chart.
 * Values below the first edge land in the first bucket, above the last in the last.
 */
export function histogram(values: readonly number[], edges?: readonly number[]): Histogram {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  const e = edges ? [...edges] : niceEdges(max);
  if (e.length < 2) throw new RangeError('a histogram needs at least two edges');
  for (let i = 1; i < e.length; i++) if (!(e[i]! > e[i - 1]!)) throw new RangeError('histogram edges must ascend');
  const counts = new Array<number>(e.length - 1).fill(0);
  for (const v of values) {
    // Binary search for the last edge ≤ v.
    let lo = 0;
    let hi = e.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (e[mid]! <= v) lo = mid;
      else hi = mid - 1;
    }
    counts[lo]!++;
  }
  return { edges: e, counts };
}

const BUCKETS = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

/** The smallest bucket width (from a fixed list) that covers `durationMs` in at most `maxBuckets`. */
export function bucketWidth(durationMs: number, maxBuckets = 150): number {
  for (const b of BUCKETS) if (durationMs / b <= maxBuckets) return b;
  return Math.ceil(durationMs / maxBuckets / 60_000) * 60_000;
}

/** Events per time bucket for each named stream of event times (ms from the start). */
export function timeSeries(streams: Record<string, readonly number[]>, durationMs: number, bucketMs = bucketWidth(durationMs)): Series {
  if (!(bucketMs > 0)) throw new RangeError('bucketMs must be above 0');
  const n = Math.max(1, Math.ceil(Math.max(0, durationMs) / bucketMs));
  const counts: Record<string, number[]> = {};
  for (const [name, times] of Object.entries(streams)) {
    const c = new Array<number>(n).fill(0);
    for (const t of times) c[Math.min(n - 1, Math.max(0, Math.floor(t / bucketMs)))]!++;
    counts[name] = c;
  }
  return { bucketMs, t: Array.from({ length: n }, (_, i) => i * bucketMs), counts };
}

/** Events per second over a span; null when the span is empty. */
export function perSecond(count: number, spanMs: number): number | null {
  return spanMs > 0 ? (count * 1000) / spanMs : null;
}

/** The span from the earliest to the latest of some event times; 0 for fewer than two. */
export function span(times: readonly number[]): { first: number; last: number; ms: number } | null {
  if (times.length === 0) return null;
  let first = Infinity;
  let last = -Infinity;
  for (const t of times) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  return { first, last, ms: last - first };
}

/** Adds one to a counter in a plain record. */
export function bump(record: Record<string, number>, key: string, by = 1): void {
  record[key] = (record[key] ?? 0) + by;
}

/** A sliding count of events over the last `windowMs`, for a live rate. */
export class RateWindow {
  readonly #windowMs: number;
  readonly #times: number[] = [];
  #head = 0;
  constructor(windowMs = 1000) {
    this.#windowMs = windowMs;
  }
  add(now: number): void {
    this.#times.push(now);
  }
  rate(now: number): number {
    while (this.#head < this.#times.length && this.#times[this.#head]! <= now - this.#windowMs) this.#head++;
    if (this.#head > 4096) {
      this.#times.splice(0, this.#head);
      this.#head = 0;
    }
    return ((this.#times.length - this.#head) * 1000) / this.#windowMs;
  }
}
