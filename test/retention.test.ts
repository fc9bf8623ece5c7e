import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { startRetention, type Retention } from '../src/market/retention.js';

const NOW = Date.parse('2024-09-21T12:00:00Z');
const HOUR = 3_600_000;

describe('price sample retention', () => {
  let retention: Retention | undefined;
  const store = new SqliteStore({ path: ':memory:' });
  afterEach(() => retention?.stop());

  it('deletes samples older than PRICE_HISTORY_RETENTION and keeps the rest', async () => {
    const ages = [0, 1, 23, 24.5, 48, 200];
    await store.insertPriceSamples(
      ages.map((age) => ({ symbol: 'BTCUSDT', price: String(age), timestamp: NOW - age * HOUR })),
    );
    retention = startRetention({
      store,
      retentionMs: 24 * HOUR,
      now: () => NOW,
      logger: pino({ level: 'silent' }),
      ingesting: () => true,
    });
    // The sweep at start already ran; a second one finds nothing more to delete.
    await expect(retention.sweep()).resolves.toBe(0);
    const kept = await store.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' });
    expect(kept.map((sample) => sample.price)).toEqual(['23', '1', '0']);
  });

  it('deletes a backlog larger than one delete in several bounded deletes, and stops between them when it stops', async () => {
    const old = Array.from({ length: 35 }, (_, i) => ({
      symbol: 'SOLUSDT',
      price: `old-${i}`,
      timestamp: NOW - 48 * HOUR + i * 1000,
    }));
    const own = new SqliteStore({ path: ':memory:' });
    await own.insertPriceSamples([...old, { symbol: 'SOLUSDT', price: 'new', timestamp: NOW - HOUR }]);
    // The real store, its deletes counted: each may remove at most the batch size.
    const limits: number[] = [];
    const counted = Object.create(own) as SqliteStore;
    counted.deletePriceSamplesBefore = (before, limit) => {
      limits.push(limit);
      return own.deletePriceSamplesBefore(before, limit);
    };
    let ingesting = false;
    retention = startRetention({
      store: counted,
      retentionMs: 24 * HOUR,
      now: () => NOW,
      logger: pino({ level: 'silent' }),
      ingesting: () => ingesting,
      batchSize: 10,
    });
    ingesting = true;
    await expect(retention.sweep()).resolves.toBe(35);
    expect(limits).toEqual([10, 10, 10, 10]);
    const stored = () => own.listPriceSamples({ symbol: 'SOLUSDT', limit: 100, order: 'asc' });
    expect((await stored()).map((sample) => sample.price)).toEqual(['new']);

    // A stopped sweep deletes no further batch.
    await own.insertPriceSamples(old);
    limits.length = 0;
    const sweeping = retention.sweep();
    retention.stop();
    await sweeping;
    expect(limits).toEqual([10]);
    expect(await stored()).toHaveLength(26);
    await own.close();
  });

  it('leaves old samples to the ingesting instance while on standby, and sweeps once it ingests', async () => {
    await store.insertPriceSamples([
      { symbol: 'ETHUSDT', price: 'old', timestamp: NOW - 48 * HOUR },
      { symbol: 'ETHUSDT', price: 'new', timestamp: NOW - HOUR },
    ]);
    let ingesting = false;
    retention = startRetention({
      store,
      retentionMs: 24 * HOUR,
      now: () => NOW,
      logger: pino({ level: 'silent' }),
      ingesting: () => ingesting,
    });
    await expect(retention.sweep()).resolves.toBe(0);
    const stored = () => store.listPriceSamples({ symbol: 'ETHUSDT', limit: 10, order: 'asc' });
    expect((await stored()).map((sample) => sample.price)).toEqual(['old', 'new']);
    ingesting = true; // the lease is taken
    await expect(retention.sweep()).resolves.toBe(1);
    expect((await stored()).map((sample) => sample.price)).toEqual(['new']);
  });
});
