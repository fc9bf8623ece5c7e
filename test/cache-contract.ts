/**
 * The cache contract: every Cache adapter passes it by adding one line, e.g.
 * `runCacheContract('memory', async (now) => ({ cache: new MemoryCache({ now }), cleanup: ... }))`.
 * The suite owns the clock: the factory must hand `now` to the cache, which decides every expiry
 * with it, so TTLs are tested by moving the clock rather than by waiting.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Candle } from '../src/domain/candle.js';
import { HOUR_MS } from '../src/domain/intervals.js';
import { SECOND_MS, type PriceQuote, type PriceSample } from '../src/domain/price.js';
import { QUOTE_TTL_MS, SESSION_TTL_MS, WINDOW_MS, WINDOW_SECONDS, type Cache } from '../src/ports/cache.js';

export interface CacheFixture {
  readonly cache: Cache;
  /** Closes the cache and removes whatever it left behind. */
  readonly cleanup: () => Promise<void>;
}

const START = Date.parse('2024-09-21T00:00:00Z');

/** A quote with exact decimals of every shape (shared with the adapters' own tests). */
export const quote = (symbol: string, timestamp: number, price: string): PriceQuote => ({
  symbol,
  price,
  timestamp,
  open24h: '61234.5',
  high24h: '68000.00000001',
  low24h: '0.00000001',
  volume24h: '123456789.123456789',
  quoteVolume24h: '7000000000.12',
});

const sample = (symbol: string, timestamp: number, price: string): PriceSample => ({
  symbol,
  price,
  timestamp,
});

/** One sample a second from `from` (epoch ms) on, with prices that name their second. */
export const everySecond = (symbol: string, from: number, count: number): PriceSample[] =>
  Array.from({ length: count }, (_, i) => sample(symbol, from + i * SECOND_MS, `${i}.5`));

/** A session candle with exact decimals of every shape; `overrides` change any field. */
export const session = (overrides: Partial<Candle> = {}): Candle => ({
  symbol: 'BTCUSDT',
  interval: 'session',
  openTime: START + HOUR_MS,
  closeTime: START + 5 * HOUR_MS - 1,
  open: '63012.01000001',
  high: '64999.99',
  low: '0.00000001',
  close: '63500',
  volume: '12345.678901234567',
  quoteVolume: '789012345.1234567890123',
  trades: 1_234_567,
  takerBuyVolume: '6000.000001',
  takerBuyQuoteVolume: '380000000.5',
  closed: false,
  ...overrides,
});

export function runCacheContract(
  name: string,
  makeCache: (now: () => number) => Promise<CacheFixture>,
): void {
  describe(`cache contract: ${name}`, () => {
    let clock = START;
    let cache: Cache;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      clock = START;
      ({ cache, cleanup } = await makeCache(() => clock));
    });
    afterEach(async () => {
      await cleanup();
    });

    it('answers a ping', async () => {
      await expect(cache.ping()).resolves.toBeUndefined();
    });

    it('accepts empty calls and knows nothing of unknown symbols', async () => {
      await cache.setQuotes([]);
      await cache.appendWindow([]);
      await cache.setSessions([]);
      expect(await cache.getQuotes([])).toEqual([]);
      expect(await cache.getQuotes(['NOPEUSDT'])).toEqual([undefined]);
      expect(await cache.window({ symbol: 'NOPEUSDT' })).toEqual([]);
      expect(await cache.getSession('NOPEUSDT', START)).toBeUndefined();
    });

    describe('quotes', () => {
      it('returns every field of each symbol’s quote exactly, in the order asked', async () => {
        const btc = quote('BTCUSDT', START, '63012.01000001');
        const eth = quote('ETHUSDT', START + 1, '0.00000001');
        await cache.setQuotes([btc, eth]);
        expect(await cache.getQuotes(['ETHUSDT', 'NOPEUSDT', 'BTCUSDT'])).toStrictEqual([
          eth,
          undefined,
          btc,
        ]);
      });

      it('never replaces a quote with an older one, within a call or across calls', async () => {
        await cache.setQuotes([quote('BTCUSDT', START + 2000, '2'), quote('BTCUSDT', START + 1000, '1')]);
        expect((await cache.getQuotes(['BTCUSDT']))[0]?.price).toBe('2');
        await cache.setQuotes([quote('BTCUSDT', START + 1500, '1.5')]);
        expect((await cache.getQuotes(['BTCUSDT']))[0]?.price).toBe('2');
        await cache.setQuotes([quote('BTCUSDT', START + 2000, '2.1')]);
        expect((await cache.getQuotes(['BTCUSDT']))[0]?.price).toBe('2.1');
        await cache.setQuotes([quote('BTCUSDT', START + 3000, '3')]);
        expect((await cache.getQuotes(['BTCUSDT']))[0]).toStrictEqual(quote('BTCUSDT', START + 3000, '3'));
      });

      it('forgets a quote QUOTE_TTL_MS after it was written, and then takes an older one', async () => {
        await cache.setQuotes([quote('BTCUSDT', START, '2')]);
        clock += QUOTE_TTL_MS - 1;
        expect((await cache.getQuotes(['BTCUSDT']))[0]?.price).toBe('2');
        clock += 1;
        expect(await cache.getQuotes(['BTCUSDT'])).toEqual([undefined]);
        await cache.setQuotes([quote('BTCUSDT', START - 1000, '1')]);
        expect((await cache.getQuotes(['BTCUSDT']))[0]?.price).toBe('1');
      });
    });

    describe('sliding window', () => {
      it('returns samples ascending, bounded inclusively by from and to', async () => {
        const samples = everySecond('BTCUSDT', START + 250, 10);
        await cache.appendWindow([...samples].reverse());
        await cache.appendWindow([sample('ETHUSDT', START + 3000, '9')]);
        expect(await cache.window({ symbol: 'BTCUSDT' })).toStrictEqual(samples);
        expect(await cache.window({ symbol: 'BTCUSDT', from: START + 2250, to: START + 5250 })).toStrictEqual(
          samples.slice(2, 6),
        );
        expect(await cache.window({ symbol: 'BTCUSDT', from: START + 2251 })).toStrictEqual(samples.slice(3));
        expect(await cache.window({ symbol: 'BTCUSDT', to: START + 249 })).toEqual([]);
        expect(await cache.window({ symbol: 'BTCUSDT', from: START + 6000, to: START + 5000 })).toEqual([]);
        expect(await cache.window({ symbol: 'ETHUSDT' })).toStrictEqual([
          sample('ETHUSDT', START + 3000, '9'),
        ]);
      });

      it('keeps one sample per second, the later write winning', async () => {
        await cache.appendWindow([sample('BTCUSDT', START + 100, 'a'), sample('BTCUSDT', START + 900, 'b')]);
        expect(await cache.window({ symbol: 'BTCUSDT' })).toStrictEqual([
          sample('BTCUSDT', START + 900, 'b'),
        ]);
        await cache.appendWindow([sample('BTCUSDT', START + 2000, 'c')]);
        await cache.appendWindow([sample('BTCUSDT', START + 7, 'd')]);
        expect(await cache.window({ symbol: 'BTCUSDT' })).toStrictEqual([
          sample('BTCUSDT', START + 7, 'd'),
          sample('BTCUSDT', START + 2000, 'c'),
        ]);
      });

      it('puts out-of-order samples in their place', async () => {
        const at = (second: number) => sample('BTCUSDT', START + second * SECOND_MS, `${second}`);
        await cache.appendWindow([at(10), at(300)]);
        await cache.appendWindow([at(200)]);
        await cache.appendWindow([at(5), at(250), at(11)]);
        expect(await cache.window({ symbol: 'BTCUSDT' })).toStrictEqual([5, 10, 11, 200, 250, 300].map(at));
      });

      it('trims the window to WINDOW_MS before the newest sample as samples arrive', async () => {
        const all = everySecond('BTCUSDT', START, WINDOW_SECONDS + 601);
        for (let i = 0; i < all.length; i += 600) {
          const batch = all.slice(i, i + 600);
          clock = batch.at(-1)!.timestamp;
          await cache.appendWindow(batch);
        }
        const window = await cache.window({ symbol: 'BTCUSDT' });
        expect(window).toHaveLength(WINDOW_SECONDS);
        expect(window[0]).toStrictEqual(all[601]);
        expect(window.at(-1)).toStrictEqual(all.at(-1));
        // Just outside the window: dropped; just inside: kept.
        await cache.appendWindow([
          sample('BTCUSDT', all[600]!.timestamp, 'old'),
          sample('BTCUSDT', all[601]!.timestamp + 1, 'in'),
        ]);
        const again = await cache.window({ symbol: 'BTCUSDT' });
        expect(again).toHaveLength(WINDOW_SECONDS);
        expect(again[0]).toStrictEqual(sample('BTCUSDT', all[601]!.timestamp + 1, 'in'));
      });

      it('takes more than a window of samples for several symbols in one call, in any order', async () => {
        const btc = everySecond('BTCUSDT', START, WINDOW_SECONDS + 100);
        const eth = everySecond('ETHUSDT', START, 3000);
        clock = btc.at(-1)!.timestamp;
        await cache.appendWindow([...eth, ...btc].reverse());
        expect(await cache.window({ symbol: 'BTCUSDT' })).toStrictEqual(btc.slice(100));
        expect(await cache.window({ symbol: 'ETHUSDT' })).toStrictEqual(eth);
      });

      it('after a long jump in time keeps only what lies within WINDOW_MS of the new newest sample', async () => {
        // The clock stays put: this is trimming by the samples' own times, not an idle window.
        await cache.appendWindow(everySecond('BTCUSDT', START, 300));
        const later = START + 10 * HOUR_MS;
        await cache.appendWindow([sample('BTCUSDT', later, 'new')]);
        expect(await cache.window({ symbol: 'BTCUSDT' })).toStrictEqual([sample('BTCUSDT', later, 'new')]);
        const tooOld = sample('BTCUSDT', later - WINDOW_MS, 'too old');
        const inside = sample('BTCUSDT', later - WINDOW_MS + SECOND_MS, 'inside');
        await cache.appendWindow([tooOld, inside, sample('BTCUSDT', START + 5000, 'ancient')]);
        expect(await cache.window({ symbol: 'BTCUSDT' })).toStrictEqual([
          inside,
          sample('BTCUSDT', later, 'new'),
        ]);
      });

      it('drops a window nobody appended to for WINDOW_MS, and starts it afresh', async () => {
        await cache.appendWindow(everySecond('BTCUSDT', START, 10));
        clock += WINDOW_MS - 1;
        expect(await cache.window({ symbol: 'BTCUSDT' })).toHaveLength(10);
        clock += 1;
        expect(await cache.window({ symbol: 'BTCUSDT' })).toEqual([]);
        const next = sample('BTCUSDT', START + 20 * SECOND_MS, 'next');
        await cache.appendWindow([next]);
        expect(await cache.window({ symbol: 'BTCUSDT' })).toStrictEqual([next]);
      });

      it('has no gap until a lost write is marked, then keeps the newest mark', async () => {
        expect(await cache.windowGap()).toBeUndefined();
        await cache.markWindowGap(START + 5000);
        await cache.markWindowGap(START + 2000); // an older loss reported late: the newer mark stays
        expect(await cache.windowGap()).toBe(START + 5000);
        await cache.markWindowGap(START + 9000);
        expect(await cache.windowGap()).toBe(START + 9000);
      });
    });

    describe('session aggregates', () => {
      it('returns a session candle exactly as written, every field', async () => {
        const forming = session();
        const eth = session({ symbol: 'ETHUSDT', open: '0.1', closed: true, trades: 0 });
        await cache.setSessions([
          { symbol: 'BTCUSDT', candle: forming },
          { symbol: 'ETHUSDT', candle: eth },
        ]);
        expect(await cache.getSession('BTCUSDT', forming.openTime)).toStrictEqual(forming);
        expect(await cache.getSession('ETHUSDT', eth.openTime)).toStrictEqual(eth);
        expect(await cache.getSession('BTCUSDT', forming.openTime + 1)).toBeUndefined();
      });

      it('replaces a session by a later write of the same openTime and keeps only the candle’s fields', async () => {
        await cache.setSessions([{ symbol: 'BTCUSDT', candle: session() }]);
        const closed = session({ close: '63600.5', closed: true });
        await cache.setSessions([{ symbol: 'BTCUSDT', candle: { ...closed, eventTime: START } as Candle }]);
        expect(await cache.getSession('BTCUSDT', closed.openTime)).toStrictEqual(closed);
      });

      it('forgets a session SESSION_TTL_MS after it was written', async () => {
        const candle = session();
        await cache.setSessions([{ symbol: 'BTCUSDT', candle }]);
        clock += SESSION_TTL_MS - 1;
        expect(await cache.getSession('BTCUSDT', candle.openTime)).toStrictEqual(candle);
        clock += 1;
        expect(await cache.getSession('BTCUSDT', candle.openTime)).toBeUndefined();
      });
    });
  });
}
