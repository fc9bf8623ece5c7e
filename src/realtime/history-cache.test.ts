/** The `historical_data` cache: one read per symbol and second; a past second's dropped at the next read. */
import { describe, expect, it } from 'vitest';
import type { HistoricalData } from './events.js';
import { createHistoryCache } from './history-cache.js';

describe('history cache', () => {
  it('reads a symbol once per second, shared by every subscriber of that second', async () => {
    let second = 100;
    const reads: string[] = [];
    const cache = createHistoryCache(
      async (symbol): Promise<HistoricalData> => {
        reads.push(`${symbol}@${second}`);
        return { symbol, data: [] };
      },
      () => second,
    );
    const first = cache.read('BTCUSDT');
    expect(cache.read('BTCUSDT')).toBe(first);
    second++;
    await cache.read('BTCUSDT');
    expect(reads).toEqual(['BTCUSDT@100', 'BTCUSDT@101']);
  });

  it('lets go of the histories of a past second, not only of the symbols read again', async () => {
    let second = 100;
    const cache = createHistoryCache(
      async (symbol) => ({ symbol, data: [] }),
      () => second,
    );
    for (const symbol of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']) await cache.read(symbol);
    expect(cache.held()).toBe(3);
    second++;
    await cache.read('BTCUSDT');
    expect(cache.held()).toBe(1);
  });

  it('does not share a failed read with the next subscriber of the same second', async () => {
    let fail = true;
    const cache = createHistoryCache(
      (symbol) => (fail ? Promise.reject(new Error('store down')) : Promise.resolve({ symbol, data: [] })),
      () => 100,
    );
    await expect(cache.read('BTCUSDT')).rejects.toThrow('store down');
    fail = false;
    expect(await cache.read('BTCUSDT')).toEqual({ symbol: 'BTCUSDT', data: [] });
  });
});
