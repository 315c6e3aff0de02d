import t from 'tap';
import { RateWindow, bucketWidth, histogram, niceEdges, percentile, perSecond, span, summarize, timeSeries } from '../src/stats.js';

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

t.test('percentiles are nearest-rank: always a value that was measured', async (t) => {
  const v = oneTo(100);
  t.equal(percentile(v, 50), 50);
  t.equal(percentile(v, 95), 95);
  t.equal(percentile(v, 99), 99);
  t.equal(percentile(v, 100), 100);
  t.equal(percentile(v, 0), 1);
  t.equal(percentile([7], 99), 7);
  t.equal(percentile([], 50), null);
  // 10 samples: p99 is the largest, p50 the fifth, p95 the tenth.
  const ten = oneTo(10).map((x) => x * 10);
  t.equal(percentile(ten, 50), 50);
  t.equal(percentile(ten, 95), 100);
  t.equal(percentile(ten, 90), 90);
  t.equal(percentile([1, 2, 3], 50), 2);
  t.equal(percentile([1, 2, 3, 4], 50), 2);
  t.equal(percentile(oneTo(1000), 99.9), 999);
  t.throws(() => percentile(v, 101), RangeError);
  t.throws(() => percentile(v, -1), RangeError);
});

t.test('summarize sorts unsorted samples and reports count, min, mean, p50/p95/p99, max', async (t) => {
  const shuffled = oneTo(200).sort(() => Math.random() - 0.5);
  const s = summarize(shuffled);
  t.same(s, { count: 200, min: 1, mean: 100.5, p50: 100, p95: 190, p99: 198, max: 200 });
  t.same(summarize([]), { count: 0, min: null, mean: null, p50: null, p95: null, p99: null, max: null });
  t.same(shuffled.length, 200, 'the input is not modified');
  const tail = [...new Array(98).fill(1), 500, 1000];
  t.equal(summarize(tail).p95, 1, 'p95 ignores a 2% tail');
  t.equal(summarize(tail).p99, 500);
  t.equal(summarize(tail).max, 1000);
});

t.test('histograms count each value in [edge, next edge), clamping the ends', async (t) => {
  const h = histogram([0, 1, 1.5, 2, 9.99, 10, 50, -3], [0, 2, 10, 20]);
  t.same(h.edges, [0, 2, 10, 20]);
  t.same(h.counts, [4, 2, 2], '-3 lands in the first bucket, 50 in the last');
  t.equal(h.counts.reduce((a, b) => a + b, 0), 8, 'nothing is lost');
  t.throws(() => histogram([1], [0]), RangeError);
  t.throws(() => histogram([1], [0, 5, 5]), RangeError);
});

t.test('default histogram edges go 1-2-5 up past the largest value', async (t) => {
  t.same(niceEdges(7), [0, 0.1, 0.2, 0.5, 1, 2, 5, 10]);
  t.same(niceEdges(0), [0, 0.1, 0.2]);
  const h = histogram([0.05, 3, 3, 120]);
  t.equal(h.edges.at(-1), 200);
  t.equal(h.counts.reduce((a, b) => a + b, 0), 4);
  t.equal(h.counts[h.edges.indexOf(2)], 2, 'the two 3s are in [2, 5)');
  t.equal(h.counts[h.edges.indexOf(100)], 1, '120 is in [100, 200)');
});

t.test('time series count events per bucket from the start', async (t) => {
  const s = timeSeries({ a: [0, 999, 1000, 2500, 2999], b: [] }, 3000, 1000);
  t.same(s.t, [0, 1000, 2000]);
  t.same(s.counts.a, [2, 1, 2]);
  t.same(s.counts.b, [0, 0, 0]);
  t.same(timeSeries({ a: [5000] }, 3000, 1000).counts.a, [0, 0, 1], 'late events go into the last bucket');
  t.equal(bucketWidth(10_000), 100);
  t.equal(bucketWidth(60_000), 500);
  t.equal(bucketWidth(600_000), 5000);
});

t.test('rates and spans', async (t) => {
  t.equal(perSecond(500, 250), 2000);
  t.equal(perSecond(5, 0), null);
  t.same(span([5, 1, 9]), { first: 1, last: 9, ms: 8 });
  t.equal(span([]), null);
  const w = new RateWindow(1000);
  for (let i = 0; i < 10; i++) w.add(i * 100);
  t.equal(w.rate(950), 10);
  t.equal(w.rate(1450), 5, 'events older than the window drop out');
});
