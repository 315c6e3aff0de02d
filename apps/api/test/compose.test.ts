import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { metricsPlugin } from '../src/plugins/metrics.js';
import { installed } from './helpers/system.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

/** `docker-compose … config`: the file with .env and the variables below interpolated. */
async function composeConfig(...args: string[]) {
  const env = { ...process.env, ADMIN_TOKEN: 'compose-check', API_PORT: '3999' };
  const { stdout } = await run('docker-compose', [...args, 'config'], { cwd: ROOT, env });
  return stdout;
}

/** One service's block of `config` output (services are indented by two spaces, their keys by four). */
function service(config: string, name: string): string {
  const m = new RegExp(`^  ${name}:\\n((?:(?: {4}.*)?\\n)*)`, 'm').exec(config);
  return m?.[1] ?? '';
}

// No Docker engine runs on our machines, so the stack itself is not started here; the file is
// checked with Debian's docker-compose (its `config` needs no engine) whenever it is installed.
t.test('docker-compose.yml is valid', async (t) => {
  if (!(await installed('docker-compose'))) {
    t.plan(0, 'docker-compose is not installed (apt-get install docker-compose to check the file)');
    return;
  }
  const stdout = await composeConfig();
  for (const name of ['postgres', 'redis', 'migrate', 'api', 'worker', 'lb']) t.match(stdout, `\n  ${name}:\n`, `defines ${name}`);
  t.match(stdout, /service_completed_successfully/, 'the apps wait for the migration');
  t.notMatch(service(stdout, 'api'), /ports:/, 'api publishes no host port, so it can be scaled');
  t.match(service(stdout, 'lb'), /ports:[\s\S]*3999/, 'the load balancer publishes API_PORT');
  t.match(service(stdout, 'lb'), /infra\/lb\/haproxy\.cfg/, 'the load balancer runs infra/lb/haproxy.cfg');
  t.match(service(stdout, 'worker'), /WORKER_METRICS_PORT: '?9464/, 'workers serve metrics on the port Prometheus scrapes');
  t.notMatch(service(stdout, 'worker'), /ports:/, 'worker metrics are not published on the host');
});

t.test('the observability profile adds Prometheus and Grafana, on loopback only', async (t) => {
  if (!(await installed('docker-compose'))) {
    t.plan(0, 'docker-compose is not installed (apt-get install docker-compose to check the file)');
    return;
  }
  const stdout = await composeConfig('--profile', 'observability');
  for (const name of ['prometheus', 'grafana']) {
    const block = service(stdout, name);
    t.match(block, /profiles:\s*\n\s*- observability/, `${name} is in the observability profile`);
    t.match(block, /127\.0\.0\.1/, `${name} is published on loopback only`);
  }
  t.match(service(stdout, 'prometheus'), /infra\/prometheus\/prometheus\.yml/, 'prometheus uses infra/prometheus/prometheus.yml');
  t.match(service(stdout, 'grafana'), /infra\/grafana\/provisioning/, 'grafana is provisioned from infra/grafana');
  t.match(service(stdout, 'lb'), /ports:/, 'the load balancer is there too');
});

t.test('the load balancer config is valid, for compose and as a plain process', async (t) => {
  if (!(await installed('haproxy'))) {
    t.plan(0, 'haproxy is not installed (apt-get install haproxy to check infra/lb/haproxy.cfg)');
    return;
  }
  const check = (env: Record<string, string>) =>
    run('haproxy', ['-c', '-f', 'infra/lb/haproxy.cfg'], { cwd: ROOT, env: { ...process.env, ...env } });
  const compose = await check({});
  t.match(compose.stdout + compose.stderr, /valid/, 'with the defaults compose uses (Docker DNS)');
  const plain = await check({ API_BACKEND: '127.0.0.1:3000', API_SLOTS: '1', LB_BIND: '127.0.0.1:8080', LB_METRICS_BIND: '127.0.0.1:8405' });
  t.match(plain.stdout + plain.stderr, /valid/, 'pointed at one API on loopback');
});

t.test('the Prometheus config is valid', async (t) => {
  if (!(await installed('promtool'))) {
    t.plan(0, 'promtool is not installed (apt-get install prometheus to check infra/prometheus/prometheus.yml)');
    return;
  }
  const { stdout } = await run('promtool', ['check', 'config', 'infra/prometheus/prometheus.yml'], { cwd: ROOT });
  t.match(stdout, /SUCCESS/);
});

/** Every series name the API and worker expose: read from their registries' `# TYPE` lines. */
async function exportedSeries(t: Test): Promise<Set<string>> {
  const app = Fastify({ logger: false });
  await app.register(metricsPlugin);
  await app.ready();
  t.teardown(() => app.close());
  // Not a dependency of the API: loaded by path, which tsx resolves like the worker's own tests do.
  const workerMetrics = new URL('../../worker/src/metrics.ts', import.meta.url).href;
  const { createWorkerMetrics } = (await import(workerMetrics)) as { createWorkerMetrics: () => { registry: Registry } };

  const suffixes: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };
  const names = new Set<string>();
  for (const registry of [app.metrics.registry, createWorkerMetrics().registry]) {
    for (const [, name, type] of (await registry.metrics()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      for (const suffix of suffixes[type!] ?? ['']) names.add(name! + suffix);
    }
  }
  return names;
}

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** The metric names a PromQL expression selects: identifiers left once strings, label matchers, ranges and label lists are gone, that are neither functions nor keywords. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/(?<![\w:$.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)].map((m) => m[1]!).filter((w) => !PROMQL_KEYWORDS.has(w));
}

interface Panel {
  title?: string;
  datasource?: { uid?: string };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

t.test('the Grafana dashboard charts only metrics the apps export, and all of them', async (t) => {
  const dashboard = JSON.parse(await readFile(`${ROOT}infra/grafana/dashboards/booking.json`, 'utf8')) as { uid: string; panels: Panel[] };
  const datasources = await readFile(`${ROOT}infra/grafana/provisioning/datasources/prometheus.yml`, 'utf8');
  const uid = /^\s*uid:\s*(\S+)/m.exec(datasources)?.[1];
  t.ok(uid, 'the provisioned datasource has a uid');

  const flat = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...flat(p.panels ?? [])]);
  const queries = flat(dashboard.panels).flatMap((p) => (p.targets ?? []).map((target) => ({ panel: p, target })));
  t.ok(queries.length >= 10, `the dashboard has queries (${queries.length})`);

  const exported = await exportedSeries(t);
  const used = new Set<string>();
  for (const { panel, target } of queries) {
    const names = target.expr ? metricNames(target.expr) : [];
    t.ok(names.length > 0, `"${panel.title}" queries a metric`, { expr: target.expr });
    const unknown = names.filter((n) => !exported.has(n));
    t.same(unknown, [], `"${panel.title}" uses exported metrics only`, { expr: target.expr });
    t.equal(target.datasource?.uid ?? panel.datasource?.uid, uid, `"${panel.title}" uses the provisioned datasource`);
    for (const n of names) used.add(n);
  }

  // A booking_* metric added to an app shows up here until it is on the dashboard too.
  const families = [...exported].filter((n) => n.startsWith('booking_')).map((n) => n.replace(/_(?:bucket|sum|count)$/, ''));
  const charted = [...used].map((n) => n.replace(/_(?:bucket|sum|count)$/, ''));
  t.same([...new Set(families)].filter((f) => !charted.includes(f)), [], 'every booking_* metric is charted');
});
