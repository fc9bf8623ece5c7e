/**
 * The store contract: every adapter passes it by adding one line,
 * `runStoreContract('sqlite', () => new SqliteStore({ path: ':memory:' }))`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aggregateCandles, type StoredCandle } from '../src/domain/candle.js';
import { ConflictError, FencedError } from '../src/domain/errors.js';
import { createFixedGrid, DAY_MS, HOUR_MS, MINUTE_MS } from '../src/domain/intervals.js';
import { RESOLUTION_MS, ROLLUP_SOURCES, type Resolution } from '../src/domain/rollups.js';
import type { Store } from '../src/ports/store.js';
import { createSyntheticMarket } from './helpers/synthetic-market.js';

const START = Date.parse('2024-09-21T00:00:00Z');
const symbolRecord = (symbol: string, isActive = true) => ({
  symbol,
  baseAsset: symbol.replace(/USDT$/, ''),
  quoteAsset: 'USDT',
  status: 'TRADING',
  isActive,
});

/**
 * Every rollup level stored for the symbol of `candles1m` (one symbol, the only candles it has)
 * equals aggregating those 1m candles exactly, over the days they span.
 */
export async function expectExactRollups(
  store: Pick<Store, 'listCandles'>,
  candles1m: readonly StoredCandle[],
): Promise<void> {
  const symbol = candles1m[0]!.symbol;
  const from = candles1m[0]!.openTime - DAY_MS;
  const to = candles1m.at(-1)!.openTime + DAY_MS;
  for (const { resolution } of ROLLUP_SOURCES) {
    const grid = createFixedGrid(RESOLUTION_MS[resolution]);
    const expected = aggregateCandles(candles1m, { interval: resolution, bucketAt: (t) => grid.bucketAt(t) });
    expect(await store.listCandles({ symbol, resolution, from, to }), resolution).toEqual(expected);
  }
}

export function runStoreContract(name: string, create: () => Store | Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await create();
    });
    afterEach(async () => {
      await store.close();
    });

    it('answers a ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('symbols', () => {
      it('inserts a symbol once and reports a conflict for a duplicate', async () => {
        const created = await store.insertSymbol(symbolRecord('BTCUSDT'));
        expect(created).toMatchObject({
          symbol: 'BTCUSDT',
          baseAsset: 'BTC',
          quoteAsset: 'USDT',
          isActive: true,
        });
        expect(typeof created.createdAt).toBe('number');
        await expect(store.insertSymbol(symbolRecord('BTCUSDT'))).rejects.toBeInstanceOf(ConflictError);
      });

      it('inserts only the missing symbols of a list', async () => {
        await store.insertSymbol(symbolRecord('BTCUSDT', false));
        const result = await store.insertSymbolsIfMissing([symbolRecord('BTCUSDT'), symbolRecord('ETHUSDT')]);
        expect(result).toEqual({ created: ['ETHUSDT'], skipped: ['BTCUSDT'] });
        expect((await store.getSymbol('BTCUSDT'))?.isActive).toBe(false);
      });

      it('filters by activity and by a case-insensitive substring', async () => {
        await store.insertSymbolsIfMissing([
          symbolRecord('BTCUSDT'),
          symbolRecord('ETHUSDT'),
          symbolRecord('WBTCUSDT', false),
        ]);
        const names = (list: { symbol: string }[]) => list.map((s) => s.symbol);
        expect(names(await store.listSymbols())).toEqual(['BTCUSDT', 'ETHUSDT', 'WBTCUSDT']);
        expect(names(await store.listSymbols({ active: true }))).toEqual(['BTCUSDT', 'ETHUSDT']);
        expect(names(await store.listSymbols({ active: false }))).toEqual(['WBTCUSDT']);
        expect(names(await store.listSymbols({ search: 'btc' }))).toEqual(['BTCUSDT', 'WBTCUSDT']);
        expect(names(await store.listSymbols({ search: '%' }))).toEqual([]);
      });

      it('activates and deactivates a symbol, and says when it does not exist', async () => {
        await store.insertSymbol(symbolRecord('BTCUSDT'));
        expect((await store.setSymbolActive('BTCUSDT', false))?.isActive).toBe(false);
        expect((await store.setSymbolActive('BTCUSDT', true))?.isActive).toBe(true);
        expect(await store.setSymbolActive('NOPEUSDT', true)).toBeUndefined();
      });

      it('sets the exchange status of a symbol, leaving its activity alone', async () => {
        await store.insertSymbol(symbolRecord('BTCUSDT'));
        expect(await store.setSymbolStatus('BTCUSDT', 'BREAK')).toMatchObject({
          status: 'BREAK',
          isActive: true,
        });
        expect((await store.getSymbol('BTCUSDT'))?.status).toBe('BREAK');
        expect(await store.setSymbolStatus('NOPEUSDT', 'BREAK')).toBeUndefined();
      });

      it('keeps non-ASCII symbols as Binance writes them', async () => {
        await store.insertSymbol(symbolRecord('币安人生USDT'));
        expect((await store.getSymbol('币安人生USDT'))?.symbol).toBe('币安人生USDT');
      });
    });

    describe('price samples', () => {
      const sample = (timestamp: number, price: string) => ({ symbol: 'BTCUSDT', price, timestamp });

      it('keeps one sample per symbol per second, the latest of that second', async () => {
        await store.insertPriceSamples([
          sample(START + 100, '1'),
          sample(START + 900, '2'),
          sample(START + 500, '3'),
        ]);
        await store.insertPriceSamples([sample(START + 900, '2')]);
        expect(await store.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' })).toEqual([
          sample(START + 900, '2'),
        ]);
      });

      it('reads the oldest from a time or the newest up to a time', async () => {
        await store.insertPriceSamples(
          Array.from({ length: 10 }, (_, i) => sample(START + i * 1000, String(i))),
        );
        const prices = (list: { price: string }[]) => list.map((s) => s.price);
        const query = { symbol: 'BTCUSDT', limit: 3 } as const;
        expect(prices(await store.listPriceSamples({ ...query, order: 'asc', from: START + 2000 }))).toEqual([
          '2',
          '3',
          '4',
        ]);
        expect(prices(await store.listPriceSamples({ ...query, order: 'desc', to: START + 5500 }))).toEqual([
          '5',
          '4',
          '3',
        ]);
        expect(prices(await store.listPriceSamples({ ...query, order: 'desc' }))).toEqual(['9', '8', '7']);
        expect(await store.listPriceSamples({ ...query, symbol: 'ETHUSDT', order: 'asc' })).toEqual([]);
      });

      it('deletes samples older than a time, at most as many as asked, the oldest first, and says how many', async () => {
        await store.insertPriceSamples(
          Array.from({ length: 10 }, (_, i) => sample(START + i * 1000, String(i))),
        );
        const oldest = async () =>
          (await store.listPriceSamples({ symbol: 'BTCUSDT', limit: 1, order: 'asc' }))[0]?.price;
        expect(await store.deletePriceSamplesBefore(START + 4000, 3)).toBe(3);
        expect(await oldest()).toBe('3');
        expect(await store.deletePriceSamplesBefore(START + 4000, 3)).toBe(1);
        expect(await oldest()).toBe('4');
        expect(await store.deletePriceSamplesBefore(START + 4000, 3)).toBe(0);
      });
    });

    describe('candles', () => {
      const market = createSyntheticMarket({ symbol: 'BTCUSDT', start: START, minutes: 180, seed: 11 });
      const minute = (i: number): StoredCandle => market.candles1m[i]!;
      const read = (resolution: Resolution, from = START, to = START + 3 * HOUR_MS) =>
        store.listCandles({ symbol: 'BTCUSDT', resolution, from, to });

      it('stores 1m candles and reads them back ascending', async () => {
        await store.upsertCandles([...market.candles1m].reverse());
        const stored = await read('1m');
        expect(stored).toHaveLength(180);
        expect(stored.map((c) => c.openTime)).toEqual(market.candles1m.map((c) => c.openTime));
        expect(stored[0]).toEqual({
          ...minute(0),
          eventTime: undefined,
          interval: '1m',
        } as unknown as StoredCandle);
        expect(await store.candleSpan('BTCUSDT')).toEqual({
          firstOpenTime: START,
          lastOpenTime: START + 179 * MINUTE_MS,
        });
        expect(await store.candleSpan('ETHUSDT')).toBeUndefined();
        const count = (from: number, to: number) =>
          store.countCandles({ symbol: 'BTCUSDT', resolution: '1m', from, to });
        expect(await count(START, START + 179 * MINUTE_MS)).toBe(180);
        expect(await count(START + 10 * MINUTE_MS, START + 19 * MINUTE_MS)).toBe(10);
        expect(
          await store.countCandles({
            symbol: 'BTCUSDT',
            resolution: '1h',
            from: START,
            to: START + 3 * HOUR_MS,
          }),
        ).toBe(3);
      });

      it('finds the nearest stored 1m open time in either direction, across a gap', async () => {
        await store.upsertCandles([minute(0), minute(1), minute(120)]);
        const nearest = (time: number, direction: 1 | -1) =>
          store.nearestOpenTime('BTCUSDT', time, direction);
        expect(await nearest(minute(1).openTime, 1)).toBe(minute(1).openTime);
        expect(await nearest(minute(1).openTime + 1, 1)).toBe(minute(120).openTime);
        expect(await nearest(minute(120).openTime - 1, -1)).toBe(minute(1).openTime);
        expect(await nearest(START - 1, -1)).toBeUndefined();
        expect(await nearest(minute(120).openTime + 1, 1)).toBeUndefined();
        expect(await store.nearestOpenTime('ETHUSDT', START, 1)).toBeUndefined();
      });

      it('reads ranges of several resolutions in one call, ascending, each candle with its resolution', async () => {
        await store.upsertCandles(market.candles1m);
        const ranges = [
          { resolution: '1m', from: START + 50 * MINUTE_MS, to: START + 59 * MINUTE_MS },
          { resolution: '1h', from: START + HOUR_MS, to: START + 2 * HOUR_MS - 1 },
          { resolution: '15m', from: START + 2 * HOUR_MS, to: START + 2 * HOUR_MS + 30 * MINUTE_MS - 1 },
          {
            resolution: '1m',
            from: START + 2 * HOUR_MS + 30 * MINUTE_MS,
            to: START + 2 * HOUR_MS + 31 * MINUTE_MS,
          },
        ] as const;
        const candles = await store.listCandleRanges('BTCUSDT', ranges);
        const expected = await Promise.all(
          ranges.map((range) => store.listCandles({ symbol: 'BTCUSDT', ...range })),
        );
        expect(candles).toEqual(expected.flat());
        expect(candles.map((c) => c.interval)).toEqual([
          ...Array<string>(10).fill('1m'),
          '1h',
          '15m',
          '15m',
          '1m',
          '1m',
        ]);
        expect(await store.listCandleRanges('BTCUSDT', [])).toEqual([]);
        expect(await store.listCandleRanges('ETHUSDT', ranges)).toEqual([]);
      });

      it('changes nothing when the same candles are written again', async () => {
        await store.upsertCandles(market.candles1m);
        const before = await read('1h');
        await store.upsertCandles(market.candles1m);
        expect(await read('1m')).toHaveLength(180);
        expect(await read('1h')).toEqual(before);
      });

      it('replaces closed candles on request, rebuilding their rollups and counting only rows that changed', async () => {
        await store.upsertCandles(market.candles1m);
        // A corrected 00:10 (another volume) and a new closed minute; the rest as stored.
        const corrected = { ...minute(10), volume: '12345.5', eventTime: minute(10).eventTime + 1 };
        const later = {
          ...minute(179),
          openTime: START + 180 * MINUTE_MS,
          closeTime: START + 181 * MINUTE_MS - 1,
        };
        const written = await store.replaceCandles([...market.candles1m.slice(0, 20), corrected, later]);
        expect(written).toBe(2);
        expect((await read('1m', minute(10).openTime, minute(10).openTime))[0]).toMatchObject({
          volume: '12345.5',
        });
        // Every rollup level equals aggregating the 1m candles now stored.
        const now1m = market.candles1m.map((candle, i) => (i === 10 ? corrected : candle));
        await expectExactRollups(store, [...now1m, later]);
        // A forming candle is merged by the usual rule: it never overwrites a closed one.
        expect(
          await store.replaceCandles([
            { ...minute(11), closed: false, volume: '1', eventTime: Number.MAX_SAFE_INTEGER },
          ]),
        ).toBe(0);
        expect((await read('1m', minute(11).openTime, minute(11).openTime))[0]).toMatchObject({
          volume: minute(11).volume,
          closed: true,
        });
      });

      it('counts a minute replaced twice in one batch as one row written, the later one kept', async () => {
        await store.upsertCandles([minute(5)]);
        const first = { ...minute(5), volume: '1.5' };
        const second = { ...minute(5), volume: '2.5' };
        expect(await store.replaceCandles([first, second])).toBe(1);
        expect((await read('1m'))[0]).toMatchObject({ volume: '2.5' });
      });

      it('never replaces a closed candle with a forming one, nor a newer update with an older one', async () => {
        const closed = minute(0);
        const forming = { ...closed, closed: false, close: '1', eventTime: closed.eventTime + 5000 };
        await store.upsertCandles([closed]);
        await store.upsertCandles([forming]);
        expect((await read('1m'))[0]?.close).toBe(closed.close);

        const newer = { ...minute(1), closed: false, eventTime: 2000, close: '2' };
        const older = { ...minute(1), closed: false, eventTime: 1000, close: '3' };
        await store.upsertCandles([newer]);
        await store.upsertCandles([older]);
        expect((await read('1m'))[1]?.close).toBe('2');
        await store.upsertCandles([{ ...minute(1), eventTime: 500 }]);
        expect((await read('1m'))[1]).toMatchObject({ close: minute(1).close, closed: true });
      });

      it('keeps exact 15m, 1h and 1d rollups equal to aggregating the 1m candles', async () => {
        // Written in three uneven batches, out of order, with a forming candle replaced later.
        const all = market.candles1m;
        await store.upsertCandles(all.slice(100));
        await store.upsertCandles([{ ...all[50]!, closed: false, close: '1', high: '999999', eventTime: 1 }]);
        await store.upsertCandles(all.slice(0, 100));
        await expectExactRollups(store, all);
      });

      it('keeps exact rollups across 1970, where open times are negative', async () => {
        const early = createSyntheticMarket({
          symbol: 'OLDUSDT',
          start: -2 * HOUR_MS,
          minutes: 240,
          seed: 3,
        });
        await store.upsertCandles(early.candles1m);
        await expectExactRollups(store, early.candles1m);
      });

      it('marks a rollup as forming while one of its candles is forming', async () => {
        const forming = { ...minute(179), closed: false };
        await store.upsertCandles([...market.candles1m.slice(0, 179), forming]);
        expect((await read('1h')).map((c) => c.closed)).toEqual([true, true, false]);
      });

      it('writes a batch all or nothing', async () => {
        const bad = { ...minute(5), symbol: null } as unknown as StoredCandle;
        await expect(store.upsertCandles([minute(0), minute(1), bad])).rejects.toThrow();
        expect(await read('1m')).toEqual([]);
        expect(await read('15m')).toEqual([]);
      });
    });

    describe('write fences', () => {
      const market = createSyntheticMarket({ symbol: 'BTCUSDT', start: START, minutes: 3, seed: 5 });
      const sample = { symbol: 'BTCUSDT', price: '1.5', timestamp: START };

      it('hands out increasing tokens and applies writes carrying the current one', async () => {
        const first = await store.advanceFence('ingest');
        expect(await store.advanceFence('other')).toBe(1);
        await store.upsertCandles(market.candles1m.slice(0, 1), { name: 'ingest', token: first });
        await store.insertPriceSamples([sample], { name: 'ingest', token: first });
        const second = await store.advanceFence('ingest');
        expect(second).toBeGreaterThan(first);
        await store.upsertCandles(market.candles1m.slice(1, 2), { name: 'ingest', token: second });
        expect(
          await store.countCandles({ symbol: 'BTCUSDT', resolution: '1m', from: START, to: START + HOUR_MS }),
        ).toBe(2);
      });

      it('refuses, and writes nothing of, a write whose token was superseded', async () => {
        const old = await store.advanceFence('ingest');
        await store.advanceFence('ingest');
        await expect(store.upsertCandles(market.candles1m, { name: 'ingest', token: old })).rejects.toThrow(
          FencedError,
        );
        await expect(store.insertPriceSamples([sample], { name: 'ingest', token: old })).rejects.toThrow(
          FencedError,
        );
        expect(await store.candleSpan('BTCUSDT')).toBeUndefined();
        expect(await store.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' })).toEqual([]);
        await expect(
          store.recordRepairGaps([{ symbol: 'BTCUSDT', since: START }], { name: 'ingest', token: old }),
        ).rejects.toThrow(FencedError);
        expect(await store.listRepairGaps()).toEqual([]);
      });
    });

    describe('gap repair records', () => {
      it('keeps the earliest gap per symbol and forgets it once a repair from no later covers it', async () => {
        await store.recordRepairGaps([
          { symbol: 'BTCUSDT', since: START + 10 * MINUTE_MS },
          { symbol: 'ETHUSDT', since: START },
        ]);
        await store.recordRepairGaps([{ symbol: 'BTCUSDT', since: START + 5 * MINUTE_MS }]);
        await store.recordRepairGaps([{ symbol: 'BTCUSDT', since: START + 20 * MINUTE_MS }]);
        expect(await store.listRepairGaps()).toEqual([
          { symbol: 'BTCUSDT', since: START + 5 * MINUTE_MS },
          { symbol: 'ETHUSDT', since: START },
        ]);
        // A repair that started after the gap leaves it owed; one from its start on settles it.
        await store.clearRepairGap('BTCUSDT', START + 6 * MINUTE_MS);
        expect(await store.listRepairGaps()).toHaveLength(2);
        await store.clearRepairGap('BTCUSDT', START + 5 * MINUTE_MS);
        expect(await store.listRepairGaps()).toEqual([{ symbol: 'ETHUSDT', since: START }]);
      });
    });

    describe('users and settings', () => {
      const user = { name: 'Ada', email: 'ada@example.com', role: 'user' as const, passwordHash: 'hash' };

      it('creates a user and finds it by id and by email in any case', async () => {
        const created = await store.createUser(user);
        expect(created).toMatchObject(user);
        expect(await store.findUserById(created.id)).toEqual(created);
        expect(await store.findUserByEmail('ADA@example.com')).toEqual(created);
        expect(await store.findUserByEmail('bob@example.com')).toBeUndefined();
      });

      it('refuses a second user with the same email', async () => {
        await store.createUser(user);
        await expect(store.createUser({ ...user, email: 'Ada@Example.com' })).rejects.toBeInstanceOf(
          ConflictError,
        );
      });

      it("changes a user's role and password hash, only those given, and leaves an unknown id alone", async () => {
        const created = await store.createUser(user);
        expect(await store.updateUser(created.id, { role: 'admin' })).toEqual({ ...created, role: 'admin' });
        expect(await store.updateUser(created.id, { passwordHash: 'other-hash' })).toEqual({
          ...created,
          role: 'admin',
          passwordHash: 'other-hash',
        });
        expect(await store.findUserById(created.id)).toMatchObject({
          role: 'admin',
          passwordHash: 'other-hash',
        });
        expect(await store.updateUser('no-such-id', { role: 'admin' })).toBeUndefined();
      });

      it('keeps the first value of a setting so that instances agree, and replaces it when put', async () => {
        expect(await store.getSetting('jwt')).toBeUndefined();
        expect(await store.setSettingIfMissing('jwt', 'a')).toBe('a');
        expect(await store.setSettingIfMissing('jwt', 'b')).toBe('a');
        expect(await store.getSetting('jwt')).toBe('a');
        await store.putSetting('jwt', 'c');
        expect(await store.getSetting('jwt')).toBe('c');
      });
    });
  });
}
