/**
 * The PostgreSQL store against a real, throwaway PostgreSQL server (helpers/postgres-server.ts):
 * the store contract every adapter passes, then what only a server brings: instances migrating one
 * database together, a fence advanced from another connection, and the server going away and coming back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/adapters/postgres/migrations.js';
import { MAX_ROWS_PER_FILE } from '../src/binance/kline-archive.js';
import { PostgresStore, translate } from '../src/adapters/postgres/store.js';
import { openStore } from '../src/adapters/create-store.js';
import { FencedError, UnavailableError } from '../src/domain/errors.js';
import { expectExactRollups, runStoreContract } from './store-contract.js';
import { startPostgresServer, type PostgresServer } from './helpers/postgres-server.js';
import { createSyntheticMarket } from './helpers/synthetic-market.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgresServer();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

runStoreContract('postgres', async () => PostgresStore.open({ url: await server.createDatabase() }));

const START = Date.parse('2024-09-21T00:00:00Z');
/**
 * A query timeout, in ms, that each statement of a monthly file's upsert stays well under (about a
 * second each here), and the quadratic rollup read it replaced did not (12 s).
 */
const SHORT_STATEMENTS_TIMEOUT_MS = 8000;
/** The query timeout of a store whose server is frozen, in ms: short, so the test is too. */
const FROZEN_QUERY_TIMEOUT_MS = 2000;
const btc = { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: true };

/**
 * A holder of the fence `ingest` on a new database starts a fenced write of one sample while a
 * rival connection has run `update` on the fence's row in a transaction it keeps open. The write
 * resolves with what it met: 'written', or its error.
 */
async function writeUnderHeldFence(update: string) {
  const url = await server.createDatabase();
  const holder = await PostgresStore.open({ url, onIdleError: () => undefined });
  const rival = new pg.Client({ connectionString: url });
  rival.on('error', () => undefined);
  await rival.connect();
  const token = await holder.advanceFence('ingest');
  await rival.query('BEGIN');
  await rival.query(update);
  const write = holder
    .insertPriceSamples([{ symbol: 'BTCUSDT', price: '1', timestamp: 1_700_000_000_000 }], {
      name: 'ingest',
      token,
    })
    .then(
      () => 'written',
      (error: unknown) => error,
    );
  return { holder, rival, write };
}

describe('postgres store errors', () => {
  /** An error as node-postgres builds it from a server's ErrorResponse. */
  const serverError = (code: string, message: string): pg.DatabaseError =>
    Object.assign(new pg.DatabaseError(message, 0, 'error'), { code });

  // A server out of disk or memory cannot be had in a test run: these are the errors it sends.
  it('answers UnavailableError (503), as SQLite does, for a server out of disk or memory', () => {
    const full = translate(serverError('53100', 'could not extend file "base/1/2": No space left on device'));
    expect(full).toBeInstanceOf(UnavailableError);
    expect((full as Error).message).toBe('the database is full; writes are refused');
    expect(translate(serverError('53200', 'out of memory'))).toBeInstanceOf(UnavailableError);
    expect(translate(serverError('53400', 'temporary file size exceeds temp_file_limit'))).toBeInstanceOf(
      UnavailableError,
    );
  });

  it('leaves errors of the request itself as they are', () => {
    const error = serverError('23505', 'duplicate key value violates unique constraint');
    expect(translate(error)).toBe(error);
  });
});

describe('postgres store on a server', () => {
  it('is what DATABASE_URL postgres:// opens, with every migration applied once and data kept across a reopen', async () => {
    const url = await server.createDatabase();
    const first = await openStore(url);
    expect(first.driver).toBe('postgres');
    await first.insertSymbol(btc);
    await first.close();
    const second = await PostgresStore.open({ url });
    expect(await second.schemaVersions()).toEqual(MIGRATIONS.map((m) => m.version));
    expect((await second.getSymbol('BTCUSDT'))?.symbol).toBe('BTCUSDT');
    await second.close();
  });

  it('lets instances starting together on one new database take turns migrating it', async () => {
    const url = await server.createDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.open({ url })));
    for (const store of stores) {
      expect(await store.schemaVersions()).toEqual(MIGRATIONS.map((m) => m.version));
    }
    await Promise.all(stores.map((store) => store.close()));
  });

  it('refuses a fenced write that meets an advance of its fence not yet committed, once that commits', async () => {
    // Another instance takes the fence in a transaction still open when the holder writes.
    const { holder, rival, write } = await writeUnderHeldFence(
      "UPDATE settings SET value = (value::bigint + 1)::text WHERE key = 'fence:ingest'",
    );
    try {
      // Reading the fence without a lock would see the committed token and write at once.
      await sleep(300);
      await rival.query('COMMIT');
      expect(await write).toBeInstanceOf(FencedError);
      expect(await holder.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' })).toEqual([]);
    } finally {
      await rival.end();
      await holder.close();
    }
  });

  it("writes a monthly import file's minutes of one symbol in one upsert, statements staying short", async () => {
    // On a new table the planner's statistics do not know the rows the upsert itself wrote; the
    // rollup read must still be one index range per bucket, not every minute against every bucket.
    const url = await server.createDatabase();
    const store = await PostgresStore.open({ url, queryTimeoutMs: SHORT_STATEMENTS_TIMEOUT_MS });
    try {
      const market = createSyntheticMarket({
        symbol: 'BTCUSDT',
        start: START,
        minutes: MAX_ROWS_PER_FILE,
        seed: 17,
      });
      await store.upsertCandles(market.candles1m);
      await expectExactRollups(store, market.candles1m);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('keeps rollups exact when writes of one symbol overlap on several connections', async () => {
    const url = await server.createDatabase();
    const stores = await Promise.all([PostgresStore.open({ url }), PostgresStore.open({ url })]);
    try {
      // Every minute of two hours written alone, all at once over two pools of connections: each
      // write rebuilds the 15m, 1h and 1d rollups its minute falls in, shared with the others.
      const market = createSyntheticMarket({ symbol: 'BTCUSDT', start: START, minutes: 120, seed: 13 });
      await Promise.all(
        market.candles1m.map((candle, i) => stores[i % stores.length]!.upsertCandles([candle])),
      );
      await expectExactRollups(stores[0], market.candles1m);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('answers UnavailableError to a write whose session is ended in its transaction, as a shutdown does, and the process lives on', async () => {
    // The rival holds the fence row, so the holder's write waits inside its transaction.
    const { holder, rival, write } = await writeUnderHeldFence(
      "UPDATE settings SET value = value WHERE key = 'fence:ingest'",
    );
    try {
      await sleep(300);
      // What a server shutdown does to each session (57P01), here to the holder's alone: a real
      // shutdown ends the rival's too, in no set order, and the holder could take the freed lock
      // and commit first.
      await rival.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      expect(await write).toBeInstanceOf(UnavailableError);
    } finally {
      await rival.end().catch(() => undefined);
      await holder.close();
    }
  });

  it('gives a write to a server that stopped answering up after one query timeout, not a second for its ROLLBACK', async () => {
    const url = await server.createDatabase();
    const store = await PostgresStore.open({ url, queryTimeoutMs: FROZEN_QUERY_TIMEOUT_MS });
    const sample = (second: number) => ({ symbol: 'BTCUSDT', price: '1', timestamp: START + second * 1000 });
    try {
      await store.insertPriceSamples([sample(0)]); // an idle connection waits in the pool
      server.freeze();
      const started = performance.now();
      await expect(store.insertPriceSamples([sample(1)])).rejects.toThrow(UnavailableError);
      // One timeout and some slack; a ROLLBACK sent on the same connection would wait out another.
      expect(performance.now() - started).toBeLessThan(FROZEN_QUERY_TIMEOUT_MS * 1.75);
    } finally {
      server.thaw();
    }
    try {
      // The connection was destroyed, not returned: the next write opens another and goes through.
      await store.insertPriceSamples([sample(2)]);
      const stored = await store.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' });
      expect(stored.map((s) => s.timestamp)).toEqual([sample(0).timestamp, sample(2).timestamp]);
    } finally {
      await store.close();
    }
  }, 30_000);

  it('answers UnavailableError while the server is down and works again once it is back, without a reopen', async () => {
    const url = await server.createDatabase();
    const store = await PostgresStore.open({ url, onIdleError: () => undefined });
    try {
      await store.insertSymbol(btc);
      await server.shutdown();
      await expect(store.ping()).rejects.toThrow(UnavailableError);
      await expect(store.getSymbol('BTCUSDT')).rejects.toThrow(UnavailableError);
      await expect(
        store.insertPriceSamples([{ symbol: 'BTCUSDT', price: '1', timestamp: 1_700_000_000_000 }]),
      ).rejects.toThrow(UnavailableError);
      await server.start();
      await expect(store.ping()).resolves.toBeUndefined();
      expect((await store.getSymbol('BTCUSDT'))?.symbol).toBe('BTCUSDT');
    } finally {
      await store.close();
    }
  }, 60_000);
});
