import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../adapters/sqlite/store.js';
import { withOverrides } from '../adapters/with-overrides.js';
import type { StoredCandle } from '../domain/candle.js';
import { MINUTE_MS } from '../domain/intervals.js';
import type { Store } from '../ports/store.js';
import { withWriteFaults, type FaultyStore } from '../../test/helpers/faulty-store.js';
import { createSyntheticMarket } from '../../test/helpers/synthetic-market.js';
import { createWriteBuffer, FINAL_FLUSH_RETRY_MS, type WriteBuffer } from './write-buffer.js';

const START = Date.parse('2024-09-21T00:00:00Z');
const market = createSyntheticMarket({ symbol: 'BTCUSDT', start: START, minutes: 30, seed: 4 });
const minute = (i: number): StoredCandle => market.candles1m[i]!;
const logger = pino({ level: 'silent' });

describe('write buffer', () => {
  let real: SqliteStore;
  let faulty: FaultyStore;
  let buffer: WriteBuffer;
  beforeEach(() => {
    real = new SqliteStore({ path: ':memory:' });
    faulty = withWriteFaults(real);
    buffer = createWriteBuffer({ store: faulty.store, logger, maxPendingCandles: 10, maxPendingSamples: 5 });
  });
  afterEach(async () => {
    await real.close();
  });
  const stored = () =>
    real.listCandles({ symbol: 'BTCUSDT', resolution: '1m', from: 0, to: Number.MAX_SAFE_INTEGER });

  it('merges every update of a forming candle into one row per flush, the newest', async () => {
    for (let second = 1; second <= 59; second++) {
      buffer.addCandle({ ...minute(0), closed: false, trades: second, eventTime: START + second * 1000 });
    }
    buffer.addCandle({ ...minute(0), closed: false, trades: 1, eventTime: START + 500 }); // late and older
    expect(buffer.stats().pendingCandles).toBe(1);
    await buffer.flush();
    expect(faulty.writeAttempts).toBe(1);
    expect((await stored())[0]).toMatchObject({ trades: 59, closed: false });
  });

  it('keeps one sample per symbol and second, the latest', async () => {
    buffer.addSample({ symbol: 'BTCUSDT', price: '1', timestamp: START + 100 });
    buffer.addSample({ symbol: 'BTCUSDT', price: '2', timestamp: START + 900 });
    buffer.addSample({ symbol: 'BTCUSDT', price: '3', timestamp: START + 400 });
    await buffer.flush();
    expect(await real.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' })).toEqual([
      { symbol: 'BTCUSDT', price: '2', timestamp: START + 900 },
    ]);
  });

  it('loses nothing while the store fails, and writes it all once the store is back', async () => {
    faulty.failing = true;
    for (let i = 0; i < 5; i++) buffer.addCandle(minute(i));
    await expect(buffer.flush()).rejects.toThrow('database unreachable');
    for (let i = 5; i < 8; i++) buffer.addCandle(minute(i));
    // A newer update of a candle that is back in the buffer still wins over the failed batch's copy.
    buffer.addCandle({ ...minute(9), closed: false, eventTime: 1 });
    await expect(buffer.flush()).rejects.toThrow();
    expect(buffer.stats()).toMatchObject({
      pendingCandles: 9,
      failedFlushes: 2,
      lastError: 'database unreachable',
    });
    faulty.failing = false;
    buffer.addCandle(minute(9));
    await buffer.flush();
    const rows = await stored();
    expect(rows.map((c) => (c.openTime - START) / MINUTE_MS)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 9]);
    expect(rows.every((c) => c.closed)).toBe(true);
    expect(buffer.stats().pendingCandles).toBe(0);
  });

  it('writes the samples while the store refuses the candles, and keeps the candles for the next flush', async () => {
    let refusing = true;
    const store = withOverrides<Store>(real, {
      upsertCandles: (rows) =>
        refusing ? Promise.reject(new Error('candle refused')) : real.upsertCandles(rows),
    });
    const split = createWriteBuffer({ store, logger });
    split.addCandle(minute(0));
    split.addSample({ symbol: 'BTCUSDT', price: '1', timestamp: START + 100 });
    await expect(split.flush()).rejects.toThrow('candle refused');
    // The samples, which cannot be fetched again, are stored; the candle waits.
    expect(await real.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' })).toHaveLength(1);
    expect(split.stats()).toMatchObject({
      pendingCandles: 1,
      pendingSamples: 0,
      consecutiveFailedFlushes: 1,
    });
    refusing = false;
    await split.flush();
    expect(await stored()).toHaveLength(1);
    expect(split.stats()).toMatchObject({ pendingCandles: 0, consecutiveFailedFlushes: 0 });
  });

  it('refuses new keys past its bound and counts them, while updates of held keys still merge', async () => {
    faulty.failing = true;
    for (let i = 0; i < 10; i++) expect(buffer.addCandle({ ...minute(i), closed: false })).toBe(true);
    expect(buffer.addCandle(minute(10))).toBe(false);
    expect(buffer.addCandle(minute(3))).toBe(true); // the closing update of a held candle
    expect(buffer.stats()).toMatchObject({ pendingCandles: 10, refused: 1 });
  });

  it('counts the batch being written against its bound, so a write that hangs and fails adds no more', async () => {
    faulty.failing = true;
    let release!: () => void;
    faulty.holdWrites = new Promise((resolve) => (release = resolve));
    const sample = (second: number) => ({ symbol: 'BTCUSDT', price: '1', timestamp: START + second * 1000 });
    for (let second = 0; second < 5; second++) expect(buffer.addSample(sample(second))).toBe(true);
    const flushing = buffer.flush(); // the store holds it, then fails
    // Five are held already, if only in the batch being written: new keys are refused.
    for (let second = 5; second < 10; second++) expect(buffer.addSample(sample(second))).toBe(false);
    expect(buffer.addSample({ ...sample(2), price: '2', timestamp: START + 2500 })).toBe(true); // held key
    expect(buffer.stats()).toMatchObject({ pendingSamples: 6, refused: 5 });
    release();
    await expect(flushing).rejects.toThrow('database unreachable');
    expect(buffer.stats()).toMatchObject({ pendingSamples: 5, refused: 5 });
    faulty.holdWrites = undefined;
    faulty.failing = false;
    await buffer.flush();
    const written = await real.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' });
    expect(written.map((s) => [s.timestamp - START, s.price])).toEqual([
      [0, '1'],
      [1000, '1'],
      [2500, '2'],
      [3000, '1'],
      [4000, '1'],
    ]);
  });

  it('flushes what is left when stopped', async () => {
    buffer.start();
    buffer.addCandle(minute(0));
    buffer.addSample({ symbol: 'BTCUSDT', price: '1', timestamp: START });
    await buffer.stop();
    expect(await stored()).toHaveLength(1);
    expect(await real.listPriceSamples({ symbol: 'BTCUSDT', limit: 1, order: 'asc' })).toHaveLength(1);
  });

  it('tries its last flush again when stopped while the store briefly fails, and loses nothing', async () => {
    buffer.addCandle(minute(0));
    buffer.addSample({ symbol: 'BTCUSDT', price: '1', timestamp: START });
    faulty.failing = true;
    const stopped = buffer.stop();
    await sleep(FINAL_FLUSH_RETRY_MS / 2);
    faulty.failing = false; // the store is back before the next try
    await stopped;
    expect(faulty.writeAttempts).toBe(4); // candles and samples failed, then both written
    expect(await stored()).toHaveLength(1);
    expect(await real.listPriceSamples({ symbol: 'BTCUSDT', limit: 1, order: 'asc' })).toHaveLength(1);
  });

  it('logs the first refusal of every outage, not only of the first one', async () => {
    const lines: string[] = [];
    const logged = createWriteBuffer({
      store: faulty.store,
      logger: pino({ level: 'error' }, { write: (line: string) => void lines.push(line) }),
      maxPendingCandles: 2,
    });
    const outage = async (first: number) => {
      faulty.failing = true;
      logged.addCandle(minute(first));
      logged.addCandle(minute(first + 1));
      expect(logged.addCandle(minute(first + 2))).toBe(false);
      await expect(logged.flush()).rejects.toThrow();
      faulty.failing = false;
      await logged.flush();
    };
    await outage(0);
    await outage(10);
    expect(lines.filter((line) => line.includes('write buffer full'))).toHaveLength(2);
  });

  it('serializes concurrent flushes so none writes the same batch twice', async () => {
    for (let i = 0; i < 5; i++) buffer.addCandle(minute(i));
    await Promise.all([buffer.flush(), buffer.flush(), buffer.flush()]);
    expect(faulty.writeAttempts).toBe(1);
    expect(await stored()).toHaveLength(5);
  });
});
