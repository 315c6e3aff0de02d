import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LoadTestResult } from './run.js';
import type { Summary } from './stats.js';

const n = (v: number | null | undefined, digits = 0) =>
  v === null || v === undefined ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const pcts = (s: Summary) => (s.count ? `p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}  max ${ms(s.max)} ms  (n=${s.count})` : 'no samples');
const counts = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ') || 'none';

/** The human summary the CLI prints. */
export function formatSummary(r: LoadTestResult): string {
  const f = r.figures;
  const o = r.options;
  const lines: string[] = [];
  const show = r.shows.length === 1 ? `show ${r.shows[0]!.id} (${r.shows[0]!.capacity} seats, hold ${r.shows[0]!.holdTtlSeconds} s)` : `${r.shows.length} shows (${r.shows.reduce((a, s) => a + s.capacity, 0)} seats)`;
  const load = o.mode === 'closed' ? `closed loop ×${o.concurrency}` : `open loop ${o.rate}/s`;
  lines.push(`Flash sale against ${o.url}: ${show}, ${f.buyers} buyers, ${load}, follow ${o.follow}${o.follow === 'poll' ? ` every ${o.pollIntervalMs} ms` : ''} (seed ${o.seed}, ${r.transport})`);
  if (r.aborted) lines.push('  INTERRUPTED: the figures cover only what ran');
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(18)}${text}`);
  row('accepted', `${n(f.bookings)} bookings (${n(f.acceptedRequests)} answers incl. retries), ${n(f.acceptedPerSec, 0)} req/s`);
  row('decided', `${n(f.decided)}: held ${n(f.held)}, rejected ${n(f.rejected)}${f.rejected ? ` (${counts(f.rejections)})` : ''}; ${n(f.decisionsPerSec, 0)} decisions/s`);
  row('accept latency', pcts(f.acceptLatencyMs));
  row('decision latency', pcts(f.decisionLatencyMs));
  row('  server side', pcts(f.serverDecisionLatencyMs));
  row('polls', `${n(f.polls)} (${n(f.pollsPerSec, 0)}/s), poll latency ${pcts(f.latencyMs.poll)}`);
  row('sold out after', f.timeToSellOutMs === null ? 'not sold out' : `${n(f.timeToSellOutMs)} ms${r.shows.length > 1 ? ` (slowest of ${f.soldOutShows} sold-out shows)` : ''}`);
  row('release lag', `${pcts(f.releaseLagMs)}${f.releasesMissed ? `; ${f.releasesMissed} not seen released` : ''}`);
  row('  as observed', pcts(f.releaseObservedLagMs));
  row('actions', Object.entries(f.actions).map(([a, c]) => `${a}: ${counts(c)}`).join('; ') || 'none');
  row(
    'HTTP',
    Object.entries(f.httpStatus)
      .filter(([, c]) => Object.keys(c).length)
      .map(([op, c]) => `${op} ${counts(c)}`)
      .join(' · '),
  );
  const codes: Record<string, number> = {};
  for (const c of Object.values(f.problemCodes)) for (const [k, v] of Object.entries(c)) codes[k] = (codes[k] ?? 0) + v;
  row('problem codes', counts(codes));
  row('timeouts', `${f.timeouts}, network errors ${f.networkErrors}`);
  if (Object.keys(f.buyerFailures).length) row('buyers stopped', counts(f.buyerFailures));
  if (f.scheduleLagMs) row('schedule lag', pcts(f.scheduleLagMs));
  if (f.audience) {
    const a = f.audience;
    row('watchers', `${n(a.streams)} streams, events ${counts(a.events) || 'none'}${Object.keys(a.streamErrors).length ? `, errors ${counts(a.streamErrors)}` : ''}`);
    row('  SSE lag', pcts(a.sseLagMs));
    if (a.showPolls) row('show polls', `${n(a.showPolls)} (${n(a.showPollsPerSec, 0)}/s), ${counts(a.showPollStatuses)}`);
  }
  const d = f.durationsMs;
  row('durations', `setup ${(d.setup / 1000).toFixed(1)} s, buyers ${(d.buyers / 1000).toFixed(1)} s, releases ${(d.releases / 1000).toFixed(1)} s, verify ${(d.verify / 1000).toFixed(1)} s`);
  lines.push('');
  lines.push(`VERDICT: ${r.verdict.pass ? 'PASS' : 'FAIL'}`);
  for (const c of r.verdict.checks) {
    lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.description}${c.ok ? '' : ` (${c.violations})`}`);
    if (!c.ok) for (const s of c.samples.slice(0, 5)) lines.push(`         ${s}`);
  }
  if (r.verdict.checks.length === 0) for (const reason of r.verdict.reasons) lines.push(`  ${reason}`);
  for (const note of r.verdict.notes) lines.push(`  note: ${note}`);
  if (r.errors.length) {
    lines.push('first errors:');
    for (const e of r.errors.slice(0, 5)) lines.push(`  ${e}`);
  }
  return `${lines.join('\n')}\n`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A self-contained page: the result inline, charts drawn as SVG by an inline script (no network). */
export function renderHtml(r: LoadTestResult): string {
  const data = JSON.stringify(r).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  const title = `Load test ${r.runId}: ${r.verdict.pass ? 'PASS' : 'FAIL'}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #1d232a; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
  .pass { color: #137333; } .fail { color: #b3261e; }
  .muted { color: #5f6b76; } pre { background: #f5f7f9; padding: 12px; overflow: auto; font-size: 12px; }
  table { border-collapse: collapse; } td, th { padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
  th { font-weight: 600; color: #5f6b76; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
  .chart { border: 1px solid #e3e7eb; border-radius: 6px; padding: 8px; }
  .chart h3 { font-size: 13px; margin: 0 0 4px; }
  svg text { font: 11px system-ui, sans-serif; fill: #5f6b76; }
  .legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
  .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
</style>
</head>
<body>
<h1 id="title"></h1>
<div class="muted" id="subtitle"></div>
<h2>Verdict</h2>
<div id="verdict"></div>
<h2>Figures</h2>
<table id="figures"></table>
<h2>Over time</h2>
<div class="grid">
  <div class="chart"><h3>Requests and decisions per second</h3><div id="throughput"></div></div>
  <div class="chart"><h3>Polls and errors per second</h3><div id="polls"></div></div>
</div>
<h2>Distributions</h2>
<div class="grid">
  <div class="chart"><h3>Accept latency (202), ms</h3><div id="h-accept"></div></div>
  <div class="chart"><h3>Decision latency (accepted → decision seen), ms</h3><div id="h-decision"></div></div>
  <div class="chart"><h3>Hold-release lag (expiresAt → EXPIRED), ms</h3><div id="h-release"></div></div>
  <div class="chart"><h3>Hold-release lag as observed by clients, ms</h3><div id="h-release-observed"></div></div>
</div>
<h2>HTTP answers</h2>
<table id="http"></table>
<h2>Options</h2>
<pre id="options"></pre>
<script type="application/json" id="data">${data}</script>
<script>
(function () {
  var r = JSON.parse(document.getElementById('data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var COLORS = { sent: '#7b8794', accepted: '#1a73e8', held: '#137333', rejected: '#e8710a', released: '#9334e6', polls: '#1a73e8', errors: '#b3261e' };
  function el(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function h(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function fmt(v) { if (v === null || v === undefined) return '–'; if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US'); if (Math.abs(v) >= 10) return v.toFixed(1); return v.toFixed(2); }
  function niceMax(v) { if (v <= 0) return 1; var p = Math.pow(10, Math.floor(Math.log10(v))); var m = v / p; return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p; }

  function lineChart(target, names) {
    var s = r.series, W = 520, H = 220, L = 48, B = 28, T = 10, R = 10;
    var perSec = 1000 / s.bucketMs, max = 0;
    names.forEach(function (k) { (s.counts[k] || []).forEach(function (c) { max = Math.max(max, c * perSec); }); });
    max = niceMax(max);
    var svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%' });
    var n = s.t.length, x = function (i) { return L + (W - L - R) * (n <= 1 ? 0 : i / (n - 1)); };
    var y = function (v) { return H - B - (H - B - T) * v / max; };
    for (var g = 0; g <= 4; g++) {
      var gv = max * g / 4;
      svg.appendChild(el('line', { x1: L, x2: W - R, y1: y(gv), y2: y(gv), stroke: '#eef1f4' }));
      svg.appendChild(el('text', { x: L - 6, y: y(gv) + 4, 'text-anchor': 'end' }, fmt(gv)));
    }
    var total = (s.t.length * s.bucketMs) / 1000;
    for (var k2 = 0; k2 <= 5; k2++) {
      svg.appendChild(el('text', { x: L + (W - L - R) * k2 / 5, y: H - 8, 'text-anchor': 'middle' }, (total * k2 / 5).toFixed(1) + ' s'));
    }
    var legend = h('div', undefined, 'legend');
    names.forEach(function (k) {
      var c = s.counts[k]; if (!c) return;
      var d = c.map(function (v, i) { return (i ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v * perSec).toFixed(1); }).join(' ');
      svg.appendChild(el('path', { d: d, fill: 'none', stroke: COLORS[k] || '#333', 'stroke-width': 1.6 }));
      var item = h('span'); var sw = h('i'); sw.style.background = COLORS[k] || '#333'; item.appendChild(sw); item.appendChild(document.createTextNode(k + '/s'));
      legend.appendChild(item);
    });
    var box = document.getElementById(target); box.appendChild(svg); box.appendChild(legend);
  }

  function histChart(target, hist, summary) {
    var box = document.getElementById(target);
    var total = hist.counts.reduce(function (a, b) { return a + b; }, 0);
    if (!total) { box.appendChild(h('div', 'no samples', 'muted')); return; }
    // Leading and trailing empty buckets say nothing: trim them.
    var first = 0, last = hist.counts.length - 1;
    while (first < last && !hist.counts[first]) first++;
    while (last > first && !hist.counts[last]) last--;
    var counts = hist.counts.slice(first, last + 1), edges = hist.edges.slice(first, last + 2);
    var W = 520, H = 200, L = 44, B = 34, T = 10, R = 10, max = niceMax(Math.max.apply(null, counts));
    var svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%' });
    var bw = (W - L - R) / counts.length;
    for (var g = 0; g <= 4; g++) {
      var gv = max * g / 4, gy = H - B - (H - B - T) * g / 4;
      svg.appendChild(el('line', { x1: L, x2: W - R, y1: gy, y2: gy, stroke: '#eef1f4' }));
      svg.appendChild(el('text', { x: L - 6, y: gy + 4, 'text-anchor': 'end' }, fmt(gv)));
    }
    counts.forEach(function (c, i) {
      var bh = (H - B - T) * c / max;
      var rect = el('rect', { x: L + i * bw + 1, y: H - B - bh, width: Math.max(1, bw - 2), height: bh, fill: '#1a73e8' });
      rect.appendChild(el('title', {}, fmt(edges[i]) + '–' + fmt(edges[i + 1]) + ' ms: ' + c));
      svg.appendChild(rect);
      if (counts.length <= 16 || i % Math.ceil(counts.length / 16) === 0) {
        svg.appendChild(el('text', { x: L + i * bw, y: H - B + 14, 'text-anchor': 'middle' }, fmt(edges[i])));
      }
    });
    box.appendChild(svg);
    if (summary) box.appendChild(h('div', 'p50 ' + fmt(summary.p50) + ' · p95 ' + fmt(summary.p95) + ' · p99 ' + fmt(summary.p99) + ' · max ' + fmt(summary.max) + ' ms · n=' + summary.count, 'muted'));
  }

  var f = r.figures, v = r.verdict;
  var t = document.getElementById('title');
  t.appendChild(document.createTextNode('Load test ' + r.runId + ': '));
  t.appendChild(h('span', v.pass ? 'PASS' : 'FAIL', v.pass ? 'pass' : 'fail'));
  document.getElementById('subtitle').textContent = r.options.url + ' · ' + r.startedAt + ' · ' + f.buyers + ' buyers · ' +
    (r.options.mode === 'closed' ? 'closed loop ×' + r.options.concurrency : 'open loop ' + r.options.rate + '/s') + ' · follow ' + r.options.follow +
    ' · ' + r.shows.length + ' show(s), ' + r.shows.reduce(function (a, s) { return a + s.capacity; }, 0) + ' seats';

  var vd = document.getElementById('verdict');
  if (!v.checks.length) v.reasons.forEach(function (x) { vd.appendChild(h('div', x, 'fail')); });
  v.checks.forEach(function (c) {
    var d = h('div'); d.appendChild(h('b', c.ok ? '✓ ' : '✗ ', c.ok ? 'pass' : 'fail')); d.appendChild(document.createTextNode(c.description + (c.ok ? '' : ' (' + c.violations + ')')));
    vd.appendChild(d);
    if (!c.ok) { var ul = h('ul'); c.samples.forEach(function (s) { ul.appendChild(h('li', s)); }); vd.appendChild(ul); }
  });
  v.notes.forEach(function (x) { vd.appendChild(h('div', 'note: ' + x, 'muted')); });

  function pct(s) { return s && s.count ? 'p50 ' + fmt(s.p50) + ' · p95 ' + fmt(s.p95) + ' · p99 ' + fmt(s.p99) + ' · max ' + fmt(s.max) + ' ms (n=' + s.count + ')' : '–'; }
  function cnt(o) { return Object.keys(o || {}).map(function (k) { return k + ' ×' + o[k]; }).join(', ') || '–'; }
  var rows = [
    ['bookings accepted', fmt(f.bookings) + ' (' + fmt(f.acceptedRequests) + ' answers incl. retries)'],
    ['accepted requests/s', fmt(f.acceptedPerSec)],
    ['decided', fmt(f.decided) + ': held ' + fmt(f.held) + ', rejected ' + fmt(f.rejected) + ' (' + cnt(f.rejections) + ')'],
    ['decisions/s', fmt(f.decisionsPerSec)],
    ['accept latency', pct(f.acceptLatencyMs)],
    ['decision latency', pct(f.decisionLatencyMs)],
    ['decision latency (server)', pct(f.serverDecisionLatencyMs)],
    ['polls', fmt(f.polls) + ' (' + fmt(f.pollsPerSec) + '/s); ' + pct(f.latencyMs.poll)],
    ['time to sell out', f.timeToSellOutMs === null ? 'not sold out' : fmt(f.timeToSellOutMs) + ' ms'],
    ['release lag', pct(f.releaseLagMs)],
    ['release lag (observed)', pct(f.releaseObservedLagMs)],
    ['timeouts / network errors', f.timeouts + ' / ' + f.networkErrors],
    ['actions', Object.keys(f.actions).map(function (a) { return a + ': ' + cnt(f.actions[a]); }).join('; ') || '–'],
    ['buyers stopped early', cnt(f.buyerFailures)],
  ];
  if (f.scheduleLagMs) rows.push(['open-loop schedule lag', pct(f.scheduleLagMs)]);
  var ft = document.getElementById('figures');
  rows.forEach(function (row) { var tr = h('tr'); tr.appendChild(h('th', row[0])); tr.appendChild(h('td', row[1])); ft.appendChild(tr); });

  var ht = document.getElementById('http');
  Object.keys(f.httpStatus).forEach(function (op) {
    if (!Object.keys(f.httpStatus[op]).length) return;
    var tr = h('tr'); tr.appendChild(h('th', op)); tr.appendChild(h('td', cnt(f.httpStatus[op]))); tr.appendChild(h('td', cnt(f.problemCodes[op]), 'muted')); ht.appendChild(tr);
  });
  document.getElementById('options').textContent = JSON.stringify(r.options, null, 2);

  lineChart('throughput', ['sent', 'accepted', 'held', 'rejected', 'released']);
  lineChart('polls', ['polls', 'errors']);
  histChart('h-accept', r.histograms.acceptLatencyMs, f.acceptLatencyMs);
  histChart('h-decision', r.histograms.decisionLatencyMs, f.decisionLatencyMs);
  histChart('h-release', r.histograms.releaseLagMs, f.releaseLagMs);
  histChart('h-release-observed', r.histograms.releaseObservedLagMs, f.releaseObservedLagMs);
})();
</script>
</body>
</html>
`;
}

/** Writes DIR/result.json and DIR/report.html; returns their paths. */
export async function writeReport(dir: string, result: LoadTestResult): Promise<{ json: string; html: string }> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  const json = join(root, 'result.json');
  const html = join(root, 'report.html');
  await writeFile(json, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(html, renderHtml(result));
  return { json, html };
}
