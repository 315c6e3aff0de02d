import t from 'tap';
import { HELP, OptionsError, parseOptions, parseRange, parseSeating, parseShare, parseTiers, resolveOptions, type LoadTestOptions } from '../src/options.js';

const parse = (...argv: string[]): LoadTestOptions => {
  const r = parseOptions(argv);
  if (r.help) throw new Error('unexpected --help');
  return r.options;
};
const problems = (...argv: string[]): string[] => {
  try {
    parseOptions(argv);
  } catch (err) {
    if (err instanceof OptionsError) return err.problems;
    throw err;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
};

t.test('no flags give a closed-loop run against a new 1000-seat GA show on localhost', async (t) => {
  const o = parse();
  t.equal(o.url, 'http://127.0.0.1:3000');
  t.equal(o.adminToken, 'dev-admin-token');
  t.same(o.showIds, []);
  t.same(o.layout.ga, [{ code: 'GA', capacity: 1000, priceCents: 4500 }]);
  t.equal(o.layout.seating, null);
  t.equal(o.mode, 'closed');
  t.equal(o.concurrency, 100);
  t.equal(o.connections, 264);
  t.same(o.quantity, { min: 1, max: 4 });
  t.equal(o.follow, 'longpoll');
  t.equal(o.json, false);
  t.equal(o.out, null);
});

t.test('a literal -- that pnpm passes first is ignored', async (t) => {
  t.equal(parse('--', '--buyers', '7').buyers, 7);
});

t.test('--help asks for the help text, which names every flag', async (t) => {
  t.same(parseOptions(['--help']), { help: true });
  t.same(parseOptions(['-h']), { help: true });
  for (const flag of ['--url', '--admin-token', '--show', '--ga-capacity', '--seats', '--tiers', '--hold-ttl', '--buyers', '--concurrency', '--rate', '--quantity', '--exact-seats', '--hot-block', '--retry-share', '--confirm-share', '--decline-share', '--cancel-share', '--abandon-share', '--follow', '--poll-interval', '--timeout', '--watchers', '--show-pollers', '--show-poll-interval', '--json', '--out', '--quiet']) {
    t.match(HELP, flag, `help mentions ${flag}`);
  }
});

t.test('every flag is read into the options', async (t) => {
  const o = parse(
    '--url', 'http://10.0.0.5:8080', '--admin-token', 'secret', '--seats', '2x10x20@VIP', '--tiers', 'FLOOR:300,GA:1000:4000',
    '--hold-ttl', '5', '--max-per-booking', '8', '--buyers', '20000', '--concurrency', '500', '--quantity', '2-6', '--exact-seats', '25%',
    '--hot-block', '40', '--retry-share', '0.1', '--confirm-share', '.4', '--decline-share', '0.05', '--cancel-share', '0.05', '--abandon-share', '0.5',
    '--follow', 'poll', '--poll-interval', '500', '--poll-etag', '--wait', '20', '--timeout', '3000', '--decision-timeout', '9000',
    '--release-timeout', '4000', '--connections', '900', '--attempts', '5', '--seed', '42', '--json', '--out', 'out/dir', '--quiet',
    '--watchers', '1000', '--show-pollers', '200', '--show-poll-interval', '0',
  );
  t.equal(o.url, 'http://10.0.0.5:8080');
  t.equal(o.adminToken, 'secret');
  t.same(o.layout.seating, { sections: 2, rows: 10, seatsPerRow: 20, tier: 'VIP', priceCents: 9000 });
  t.same(o.layout.ga, [{ code: 'FLOOR', capacity: 300, priceCents: 4500 }, { code: 'GA', capacity: 1000, priceCents: 4000 }]);
  t.equal(o.layout.holdTtlSeconds, 5);
  t.equal(o.layout.maxSeatsPerBooking, 8);
  t.equal(o.buyers, 20000);
  t.equal(o.concurrency, 500);
  t.same(o.quantity, { min: 2, max: 6 });
  t.equal(o.exactSeatsShare, 0.25);
  t.equal(o.hotBlock, 40);
  t.equal(o.retryShare, 0.1);
  t.same([o.confirmShare, o.declineShare, o.cancelShare, o.abandonShare], [0.4, 0.05, 0.05, 0.5]);
  t.equal(o.follow, 'poll');
  t.equal(o.pollIntervalMs, 500);
  t.equal(o.pollEtag, true);
  t.equal(o.waitSeconds, 20);
  t.equal(o.timeoutMs, 3000);
  t.equal(o.decisionTimeoutMs, 9000);
  t.equal(o.releaseTimeoutMs, 4000);
  t.equal(o.connections, 900);
  t.equal(o.attempts, 5);
  t.equal(o.seed, 42);
  t.equal(o.json, true);
  t.equal(o.out, 'out/dir');
  t.equal(o.quiet, true);
  t.same([o.watchers, o.showPollers, o.showPollIntervalMs], [1000, 200, 0]);
});

t.test('--rate makes an open-loop run with a larger connection pool', async (t) => {
  const o = parse('--rate', '2000');
  t.equal(o.mode, 'open');
  t.equal(o.rate, 2000);
  t.equal(o.connections, 2048);
});

t.test('--show targets existing shows and takes no creation flags', async (t) => {
  const id = '7b0c7c62-4a9e-4a39-9d6b-0a0f1c2d3e4f';
  const o = parse('--show', id);
  t.same(o.showIds, [id]);
  t.same(o.layout.ga, []);
  t.match(problems('--show', id, '--ga-capacity', '10').join('\n'), /only apply when creating/);
  t.match(problems('--show', 'not-a-uuid').join('\n'), /not a show id/);
  t.match(problems('--show', id, '--shows', '3').join('\n'), /cannot be combined/);
});

t.test('a seats-only show makes every buyer ask for exact seats by default', async (t) => {
  const o = parse('--seats', '1x10x10');
  t.same(o.layout.ga, []);
  t.equal(o.exactSeatsShare, 1);
});

t.test('bad values are refused with a message naming the flag, all at once', async (t) => {
  t.match(problems('--buyers', 'ten').join('\n'), /--buyers must be an integer/);
  t.match(problems('--buyers', '0').join('\n'), /--buyers must be an integer from 1/);
  t.match(problems('--url', 'ftp://x').join('\n'), /--url must be http or https/);
  t.match(problems('--url', 'nope').join('\n'), /--url is not a URL/);
  t.match(problems('--follow', 'sometimes').join('\n'), /--follow must be longpoll or poll/);
  t.match(problems('--quantity', '4-1').join('\n'), /minimum is above the maximum/);
  t.match(problems('--quantity', 'a-b').join('\n'), /--quantity must be N or A-B/);
  t.match(problems('--quantity', '1-20', '--max-per-booking', '10').join('\n'), /above --max-per-booking/);
  t.match(problems('--concurrency', '10', '--rate', '100').join('\n'), /exclude each other/);
  t.match(problems('--rate', '0').join('\n'), /--rate must be a number/);
  t.match(problems('--confirm-share', '0.6', '--abandon-share', '0.6').join('\n'), /add up to 1.4, more than 1/);
  t.match(problems('--retry-share', '1.5').join('\n'), /--retry-share must be a share between 0 and 1/);
  t.match(problems('--retry-share', 'lots').join('\n'), /fraction like 0.25/);
  t.match(problems('--exact-seats', '0.5').join('\n'), /needs assigned seats/);
  t.match(problems('--seats', '2by3').join('\n'), /SECTIONSxROWSxSEATS/);
  t.match(problems('--tiers', 'GA').join('\n'), /CODE:capacity/);
  t.match(problems('--tiers', 'GA:10,GA:20').join('\n'), /given twice/);
  t.match(problems('--ga-capacity', '10', '--tiers', 'GA:10').join('\n'), /not both/);
  t.match(problems('--hold-ttl', '0').join('\n'), /--hold-ttl must be an integer from 1/);
  t.match(problems('--wait', '31').join('\n'), /--wait must be an integer from 1 to 30/);
  t.match(problems('--seats', '1x2x3', '--exact-seats', '1', '--hot-block', '100').join('\n'), /larger than the seat map/);
  t.match(problems('--hot-block', '10').join('\n'), /only matters with --exact-seats/);
  t.match(problems('--ga-capacity', '200000').join('\n'), /at most 100000 seats/);
  t.match(problems('--watchers', '100001').join('\n'), /--watchers must be an integer from 0 to 100000/);
  t.match(problems('--show-pollers', 'many').join('\n'), /--show-pollers must be an integer/);
  t.match(problems('--bogus').join('\n'), /Unknown option '--bogus'/);
  t.match(problems('stray').join('\n'), /Unexpected argument 'stray'/);
  const many = problems('--buyers', '0', '--concurrency', '0', '--follow', 'x');
  t.equal(many.length, 3, 'every problem is reported, not just the first');
});

t.test('the small parsers', async (t) => {
  t.equal(parseShare('s', '0.25'), 0.25);
  t.equal(parseShare('s', '25%'), 0.25);
  t.equal(parseShare('s', '.5'), 0.5);
  t.same(parseRange('q', '3'), { min: 3, max: 3 });
  t.same(parseRange('q', '1-4'), { min: 1, max: 4 });
  t.same(parseSeating('4×25×20'), { sections: 4, rows: 25, seatsPerRow: 20, tier: 'SEAT', priceCents: 9000 });
  t.same(parseTiers('VIP:10:100'), [{ code: 'VIP', capacity: 10, priceCents: 100 }]);
});

t.test('library callers get the same defaults and validation', async (t) => {
  const o = resolveOptions({ buyers: 5, layout: { holdTtlSeconds: 2 } });
  t.equal(o.buyers, 5);
  t.equal(o.layout.holdTtlSeconds, 2);
  t.same(o.layout.ga, [{ code: 'GA', capacity: 1000, priceCents: 4500 }]);
  t.throws(() => resolveOptions({ buyers: -1 }), OptionsError);
});
