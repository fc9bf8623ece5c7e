import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../adapters/memory/cache.js';
import { SqliteStore } from '../adapters/sqlite/store.js';
import { UnavailableError } from '../domain/errors.js';
import { createLiveState } from './live-state.js';
import { createPriceReader, STALE_AFTER_MS } from './prices.js';

const T = Date.parse('2024-09-21T12:00:00Z');

describe('latest price', () => {
  const store = new SqliteStore({ path: ':memory:' });
  afterEach(async () => {
    await store.deletePriceSamplesBefore(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  });

  it('answers from the live quote with the exchange’s 24 h figures and an exact change', async () => {
    const live = createLiveState();
    live.applyTickers(
      [
        {
          symbol: 'BTCUSDT',
          eventTime: T,
          close: '63100.1',
          open: '63000.3',
          high: '64000',
          low: '62000',
          volume: '12.5',
          quoteVolume: '790000',
        },
      ],
      T,
    );
    const reader = createPriceReader({ store, now: () => T + 1500, live });
    expect(await reader.latest('BTCUSDT')).toEqual({
      symbol: 'BTCUSDT',
      price: '63100.1',
      timestamp: T,
      open24h: '63000.3',
      high24h: '64000',
      low24h: '62000',
      volume24h: '12.5',
      quoteVolume24h: '790000',
      change24h: '99.8',
      changePercent24h: 0.158,
      ageMs: 1500,
      stale: false,
    });
  });

  it('rounds the change percent alike for a rise and an equal fall, from the exact change', async () => {
    const live = createLiveState();
    const ticker = (symbol: string, close: string) => ({
      symbol,
      eventTime: T,
      close,
      open: '8',
      high: '9',
      low: '7',
      volume: '1',
      quoteVolume: '8',
    });
    live.applyTickers([ticker('UPUSDT', '8.001'), ticker('DOWNUSDT', '7.999')], T);
    const reader = createPriceReader({ store, now: () => T, live });
    expect((await reader.latest('UPUSDT'))?.changePercent24h).toBe(0.013);
    expect((await reader.latest('DOWNUSDT'))?.changePercent24h).toBe(-0.013);
  });

  it('falls back to the store when there is no live quote, and reports staleness by age', async () => {
    await store.insertPriceSamples([{ symbol: 'ETHUSDT', price: '2500', timestamp: T }]);
    const reader = createPriceReader({ store, now: () => T + STALE_AFTER_MS + 1, live: createLiveState() });
    expect(await reader.latest('ETHUSDT')).toMatchObject({ price: '2500', change24h: '0', stale: true });
  });

  it('answers from the shared cache’s quote when this instance has not heard the symbol itself', async () => {
    await store.insertPriceSamples([{ symbol: 'ETHUSDT', price: '2500', timestamp: T }]);
    const cache = new MemoryCache({ now: () => T + 3000 });
    const quote = {
      symbol: 'ETHUSDT',
      price: '2510.5',
      timestamp: T + 2000,
      open24h: '2400',
      high24h: '2600',
      low24h: '2390',
      volume24h: '1000',
      quoteVolume24h: '2500000',
    };
    await cache.setQuotes([quote]);
    const reader = createPriceReader({ store, now: () => T + 3000, live: createLiveState(), cache });
    expect(await reader.latest('ETHUSDT')).toEqual({
      ...quote,
      change24h: '110.5',
      changePercent24h: 4.604,
      ageMs: 1000,
      stale: false,
    });
    // A cache that cannot answer is skipped: the store answers.
    const failing = { getQuotes: () => Promise.reject(new Error('redis down')) };
    const fallback = createPriceReader({
      store,
      now: () => T + 3000,
      live: createLiveState(),
      cache: failing,
    });
    expect(await fallback.latest('ETHUSDT')).toMatchObject({ price: '2500', timestamp: T });
  });

  it('says not ready for a symbol with no price at all', async () => {
    const reader = createPriceReader({ store, now: () => T });
    await expect(reader.latest('SOLUSDT')).rejects.toBeInstanceOf(UnavailableError);
  });
});
