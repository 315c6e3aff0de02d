import t from 'tap';
import { loadWorkerConfig } from '../src/config.js';

t.test('worker config', async (t) => {
  t.equal(loadWorkerConfig({}).TX_CONCURRENCY, 4, 'group commit runs 4 transactions at once by default');
  t.equal(loadWorkerConfig({ TX_CONCURRENCY: '9', DB_POOL_SIZE: '10' }).TX_CONCURRENCY, 9);
  t.throws(() => loadWorkerConfig({ TX_CONCURRENCY: '10', DB_POOL_SIZE: '10' }), /TX_CONCURRENCY \(10\) must be below DB_POOL_SIZE \(10\)/, 'the sweep needs a connection of its own');
  t.throws(() => loadWorkerConfig({ TX_CONCURRENCY: '0' }), /TX_CONCURRENCY/, 'at least 1');
});
