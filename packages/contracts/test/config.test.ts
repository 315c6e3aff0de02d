import t from 'tap';
import Type from 'typebox';
import { ConfigError, DatabaseUrl, LogLevel, parseEnv } from '../src/config.js';
import { jobId, showIdFromQueueName, showQueueName } from '../src/jobs/catalog.js';

const Schema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: LogLevel,
  DATABASE_URL: DatabaseUrl,
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 8 })),
});

t.test('env parsing', async (t) => {
  await t.test('defaults apply, numbers convert, unknown variables are dropped, the result is frozen', async (t) => {
    const c = parseEnv(Schema, { PORT: '8080', HOME: '/root', LOG_LEVEL: '' });
    t.same(c, { PORT: 8080, LOG_LEVEL: 'info', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/booking' });
    t.ok(Object.isFrozen(c));
  });

  await t.test('a bad value fails with a message naming the variable', async (t) => {
    t.throws(() => parseEnv(Schema, { PORT: 'eighty' }), new ConfigError('invalid configuration: PORT must be integer (got "eighty")'));
    t.throws(() => parseEnv(Schema, { LOG_LEVEL: 'loud' }), { message: /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/ });
    t.throws(() => parseEnv(Schema, { PORT: '70000' }), { message: /PORT must be/ });
  });

  await t.test('secrets and URLs are never echoed into the message', async (t) => {
    const err = (() => {
      try {
        parseEnv(Schema, { ADMIN_TOKEN: 'short', DATABASE_URL: 'mysql://user:secret@h/db' });
      } catch (e) {
        return e as Error;
      }
    })();
    t.match(err?.message, /ADMIN_TOKEN/);
    t.match(err?.message, /DATABASE_URL/);
    t.notMatch(err?.message, /short|secret/);
  });
});

t.test('job catalog', async (t) => {
  const bookingId = '4f1c1c3e-8d6b-4a77-9a3c-0b9d2f3f0c11';
  await t.test('job ids are the booking id plus the command, without the ":" BullMQ reserves', async (t) => {
    t.equal(jobId.hold({ bookingId }), `${bookingId}.hold`);
    t.equal(jobId.expire({ bookingId }), `${bookingId}.expire`);
    t.equal(jobId.cancel({ bookingId }), `${bookingId}.cancel`);
    const a = jobId.confirm({ bookingId, paymentToken: 'tok_visa' });
    t.equal(a, jobId.confirm({ bookingId, paymentToken: 'tok_visa' }), 'the same attempt has the same id');
    t.not(a, jobId.confirm({ bookingId, paymentToken: 'tok_declined' }), 'another card is another attempt');
    for (const id of [a, jobId.hold({ bookingId })]) t.notMatch(id, /:/);
  });

  await t.test('queue names round-trip to the show id', async (t) => {
    t.equal(showIdFromQueueName(showQueueName(bookingId)), bookingId);
    t.equal(showIdFromQueueName('other'), null);
  });
});
