import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../adapters/sqlite/store.js';
import { withOverrides } from '../adapters/with-overrides.js';
import { aggregateCandles } from '../domain/candle.js';
import { createFixedGrid, DAY_MS, HOUR_MS, intervalMs, MINUTE_MS } from '../domain/intervals.js';
import { createSessionCalendar } from '../domain/session-calendar.js';
import { createSyntheticMarket } from '../../test/helpers/synthetic-market.js';
import { createCandleReader, MAX_GAP_JUMPS } from './candles.js';

const START = Date.parse('2024-09-21T00:00:00Z');
const SYMBOL = 'SYNUSDT';
/** Two stored hours, 20 days apart: history imported in two pieces, or a long halt between. */
const FIRST = START;
const SECOND = START + 20 * DAY_MS;
const minutesFrom = (start: number, count: number) =>
  Array.from({ length: count }, (_, i) => start + i * MINUTE_MS);

describe('candle reads across stretches without candles', () => {
  const store = new SqliteStore({ path: ':memory:' });
  const reader = createCandleReader({
    store,
    calendar: createSessionCalendar({ hours: [1, 5, 9, 13, 17, 21], timeZone: 'UTC' }),
    now: () => SECOND + DAY_MS,
  });
  const openTimes = async (request: Parameters<typeof reader.read>[0]) =>
    (await reader.read(request)).map((candle) => candle.openTime);

  beforeAll(async () => {
    for (const [start, seed] of [
      [FIRST, 1],
      [SECOND, 2],
    ] as const) {
      await store.upsertCandles(
        createSyntheticMarket({ symbol: SYMBOL, start, minutes: 60, seed }).candles1m,
      );
    }
  });
  afterAll(() => store.close());

  it('reads forward from one stored piece into the next, 20 days later', async () => {
    expect(
      await openTimes({ symbol: SYMBOL, interval: '1m', from: FIRST + 30 * MINUTE_MS, limit: 60 }),
    ).toEqual([...minutesFrom(FIRST + 30 * MINUTE_MS, 30), ...minutesFrom(SECOND, 30)]);
  });

  it('reads backward from the newest piece into the older one', async () => {
    expect(await openTimes({ symbol: SYMBOL, interval: '1m', limit: 90 })).toEqual([
      ...minutesFrom(FIRST + 30 * MINUTE_MS, 30),
      ...minutesFrom(SECOND, 60),
    ]);
  });

  it('finds the next candle from a start in the middle of the stretch', async () => {
    expect(await openTimes({ symbol: SYMBOL, interval: '1m', from: FIRST + DAY_MS, limit: 2 })).toEqual(
      minutesFrom(SECOND, 2),
    );
    expect(await openTimes({ symbol: SYMBOL, interval: '1m', to: SECOND - DAY_MS, limit: 2 })).toEqual(
      minutesFrom(FIRST + 58 * MINUTE_MS, 2),
    );
  });

  it('steps over the stretch at coarser intervals and sessions too', async () => {
    expect(await openTimes({ symbol: SYMBOL, interval: '1h', limit: 3 })).toEqual([FIRST, SECOND]);
    expect(await openTimes({ symbol: SYMBOL, interval: '15m', from: FIRST, limit: 5 })).toEqual([
      FIRST,
      FIRST + 15 * MINUTE_MS,
      FIRST + 30 * MINUTE_MS,
      FIRST + 45 * MINUTE_MS,
      SECOND,
    ]);
    // Sessions of the default calendar open at 21:00 UTC before both pieces' midnights. The second
    // piece's holds only the minutes after the stretch, as Binance's would; the first piece's is
    // left out, since stored history starts inside it.
    expect(await openTimes({ symbol: SYMBOL, interval: 'session', limit: 2 })).toEqual([
      SECOND - 3 * HOUR_MS,
    ]);
  });

  it('leaves out the closed buckets that open before the first stored minute, since they are partial', async () => {
    // A backfill's lookback counted back from 14:37: the day, the session and the hour it starts in
    // hold only part of the exchange's candle.
    const symbol = 'MIDUSDT';
    const day = FIRST + 5 * DAY_MS;
    const start = day + 14 * HOUR_MS + 37 * MINUTE_MS;
    await store.upsertCandles(
      createSyntheticMarket({ symbol, start, minutes: 2 * 24 * 60, seed: 4 }).candles1m,
    );
    const first = async (interval: Parameters<typeof reader.read>[0]['interval'], offsetMs = 0) => ({
      forward: (await openTimes({ symbol, interval, offsetMs, from: 0, limit: 1 }))[0],
      backward: (await openTimes({ symbol, interval, offsetMs, to: SECOND, limit: 5000 }))[0],
    });
    expect(await first('1m')).toEqual({ forward: start, backward: start });
    expect(await first('1h')).toEqual({ forward: day + 15 * HOUR_MS, backward: day + 15 * HOUR_MS });
    expect(await first('1d')).toEqual({ forward: day + DAY_MS, backward: day + DAY_MS });
    // timeZone=8: days open at 16:00 UTC.
    expect(await first('1d', 8 * HOUR_MS)).toEqual({
      forward: day + 16 * HOUR_MS,
      backward: day + 16 * HOUR_MS,
    });
    expect(await first('session')).toEqual({ forward: day + 17 * HOUR_MS, backward: day + 17 * HOUR_MS });
  });

  it('still shows a partial bucket while it is forming, as the current candle', async () => {
    // A first start at 14:37 with a lookback of 20 minutes: the 13:00 session is all there is.
    const symbol = 'NEWUSDT';
    const day = FIRST + 8 * DAY_MS;
    const start = day + 14 * HOUR_MS + 17 * MINUTE_MS;
    await store.upsertCandles(createSyntheticMarket({ symbol, start, minutes: 20, seed: 5 }).candles1m);
    const during = createCandleReader({
      store,
      calendar: createSessionCalendar({ hours: [1, 5, 9, 13, 17, 21], timeZone: 'UTC' }),
      now: () => start + 20 * MINUTE_MS,
    });
    const [current] = await during.read({ symbol, interval: 'session', limit: 6 });
    expect(current).toMatchObject({ openTime: day + 13 * HOUR_MS, closed: false });
    // Once it has closed, it is partial history and no longer shown.
    expect(await openTimes({ symbol, interval: 'session', limit: 6 })).toEqual([]);
  });

  it('shows the candle holding the last stored minute forming while its symbol is tracked and trades, final once halted or untracked', async () => {
    // Stored from 00:00 to 10:37, read a day later: ingestion stopped, the minutes after are missing.
    const symbol = 'ENDUSDT';
    const day = FIRST + 11 * DAY_MS;
    await store.insertSymbolsIfMissing([
      { symbol, baseAsset: 'END', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
    ]);
    await store.upsertCandles(
      createSyntheticMarket({ symbol, start: day, minutes: 10 * 60 + 38, seed: 6 }).candles1m,
    );
    const newest = (interval: Parameters<typeof reader.read>[0]['interval'], limit = 1) =>
      reader.read({ symbol, interval, limit });
    expect(await newest('1h', 2)).toMatchObject([
      { openTime: day + 9 * HOUR_MS, closed: true }, // whole
      { openTime: day + 10 * HOUR_MS, closed: false }, // 38 of its 60 minutes
    ]);
    expect(await newest('session')).toMatchObject([{ openTime: day + 9 * HOUR_MS, closed: false }]);
    expect(await newest('1m')).toMatchObject([
      { openTime: day + 10 * HOUR_MS + 37 * MINUTE_MS, closed: true },
    ]);
    // Halted there: the exchange has no minutes after it either, so the candle is final.
    await store.setSymbolStatus(symbol, 'BREAK');
    expect(await newest('1h')).toMatchObject([{ openTime: day + 10 * HOUR_MS, closed: true }]);
    // No longer tracked: no more minutes will come, so it is final too.
    await store.setSymbolStatus(symbol, 'TRADING');
    await store.setSymbolActive(symbol, false);
    expect(await newest('1h')).toMatchObject([{ openTime: day + 10 * HOUR_MS, closed: true }]);
  });

  it('ends at the last stored candle and answers fewer than limit past it', async () => {
    expect(
      await openTimes({ symbol: SYMBOL, interval: '1m', from: SECOND + 50 * MINUTE_MS, limit: 100 }),
    ).toEqual(minutesFrom(SECOND + 50 * MINUTE_MS, 10));
    expect(await openTimes({ symbol: SYMBOL, interval: '1m', from: SECOND + DAY_MS, limit: 5 })).toEqual([]);
  });

  it(`answers with what it found after stepping over ${MAX_GAP_JUMPS} stretches`, async () => {
    const sparse = 'GAPUSDT';
    const start = SECOND + 2 * DAY_MS;
    // One candle every other hour, more than `limit` minutes apart: each range finds one, then steps.
    const candles = createSyntheticMarket({
      symbol: sparse,
      start,
      minutes: 200 * 60,
      seed: 3,
    }).candles1m.filter((candle) => (candle.openTime - start) % (2 * HOUR_MS) === 0);
    await store.upsertCandles(candles);
    const found = await reader.read({ symbol: sparse, interval: '1m', from: start, limit: 60 });
    expect(found.map((candle) => candle.openTime)).toEqual(
      candles.slice(0, MAX_GAP_JUMPS + 1).map((candle) => candle.openTime),
    );
  });
});

describe('candle reads at a timeZone off the stored grids', () => {
  const store = new SqliteStore({ path: ':memory:' });
  let rowsRead = 0;
  const counted = async <T extends unknown[]>(read: Promise<T>): Promise<T> => {
    const rows = await read;
    rowsRead += rows.length;
    return rows;
  };
  const counting = withOverrides(store, {
    listCandles: (query) => counted(store.listCandles(query)),
    listCandleRanges: (symbol, ranges) => counted(store.listCandleRanges(symbol, ranges)),
  });
  const reader = createCandleReader({
    store: counting,
    calendar: createSessionCalendar({ hours: [1, 5, 9, 13, 17, 21], timeZone: 'UTC' }),
    now: () => SECOND + 30 * DAY_MS,
  });
  // Four days with a halt of 50 minutes across a UTC midnight, and one of 7 minutes mid-day.
  const halted = (openTime: number) =>
    (openTime >= START + DAY_MS - 20 * MINUTE_MS && openTime < START + DAY_MS + 30 * MINUTE_MS) ||
    (openTime >= START + 2 * DAY_MS + 12 * HOUR_MS &&
      openTime < START + 2 * DAY_MS + 12 * HOUR_MS + 7 * MINUTE_MS);
  const candles1m = createSyntheticMarket({
    symbol: SYMBOL,
    start: START,
    minutes: 4 * 24 * 60,
    seed: 9,
  }).candles1m.filter((candle) => !halted(candle.openTime));

  beforeAll(() => store.upsertCandles(candles1m));
  afterAll(() => store.close());

  it.each([
    ['1d', '0:01', MINUTE_MS],
    ['1d', '-0:59', -59 * MINUTE_MS],
    ['12h', '05:45', 345 * MINUTE_MS],
    ['4h', '-11:07', -667 * MINUTE_MS],
    ['30m', '0:01', MINUTE_MS],
  ] as const)(
    'reads %s at timeZone %s equal to aggregating the 1m candles',
    async (interval, _name, offsetMs) => {
      const grid = createFixedGrid(intervalMs(interval), offsetMs);
      const from = grid.next(grid.bucketAt(START)).openTime;
      const expected = aggregateCandles(candles1m, { interval, bucketAt: (time) => grid.bucketAt(time) })
        .filter((candle) => candle.openTime >= from && candle.closeTime < START + 4 * DAY_MS)
        .slice(0, 1000);
      expect(expected.length).toBeGreaterThan(1);
      expect(await reader.read({ symbol: SYMBOL, interval, offsetMs, from, limit: expected.length })).toEqual(
        expected,
      );
    },
  );

  it('reads the forming day at a timeZone off the grids as forming, from forming rollups and 1m rows', async () => {
    // Two days whose last minute is still forming: it sits in a forming 1m row, 15m, 1h and 1d rollup.
    const symbol = 'FRMUSDT';
    const start = START + 10 * DAY_MS;
    const market = createSyntheticMarket({ symbol, start, minutes: 2 * 24 * 60, seed: 8 }).candles1m;
    const last = market.at(-1)!;
    const forming = [...market.slice(0, -1), { ...last, closed: false, close: '1.5', high: '999999' }];
    await store.upsertCandles(forming);
    const now = last.openTime + 30_000;
    const during = createCandleReader({
      store,
      calendar: createSessionCalendar({ hours: [1], timeZone: 'UTC' }),
      now: () => now,
    });
    for (const [interval, offsetMs] of [
      ['1d', MINUTE_MS],
      ['12h', 345 * MINUTE_MS],
    ] as const) {
      const grid = createFixedGrid(intervalMs(interval), offsetMs);
      const expected = aggregateCandles(forming, {
        interval,
        bucketAt: (time) => grid.bucketAt(time),
        now,
      }).slice(-2);
      expect(expected.map((candle) => candle.closed)).toEqual([true, false]);
      expect(await during.read({ symbol, interval, offsetMs, limit: 2 }), interval).toEqual(expected);
    }
  });

  it('reads sessions whose boundaries fall off the minute, as Monrovia time did until 1972', async () => {
    // Local mean time, 44:30 behind UTC: a session opens at 01:44:30 UTC, so the minute opening at
    // 01:44 belongs to the session before, as its open time says.
    const calendar = createSessionCalendar({ hours: [1, 5, 9, 13, 17, 21], timeZone: 'Africa/Monrovia' });
    const start = Date.parse('1971-06-01T00:00:00Z');
    const old = createSyntheticMarket({ symbol: 'OLDUSDT', start, minutes: 2 * 24 * 60, seed: 6 }).candles1m;
    await store.upsertCandles(old);
    const monrovia = createCandleReader({ store, calendar, now: () => SECOND });
    const from = calendar.next(calendar.bucketAt(start)).openTime;
    expect(from % MINUTE_MS).toBe(30_000);
    const expected = aggregateCandles(old, {
      interval: 'session',
      bucketAt: (time) => calendar.bucketAt(time),
    })
      .filter((candle) => candle.openTime >= from)
      .slice(0, -1);
    expect(
      await monrovia.read({ symbol: 'OLDUSDT', interval: 'session', from, limit: expected.length }),
    ).toEqual(expected);
  });

  it('reads a day off the quarter hour from the coarsest rows inside it, not from its 1,440 minutes', async () => {
    rowsRead = 0;
    const grid = createFixedGrid(DAY_MS, MINUTE_MS);
    const from = grid.next(grid.bucketAt(START + 2 * DAY_MS)).openTime;
    const [day] = await reader.read({ symbol: SYMBOL, interval: '1d', offsetMs: MINUTE_MS, from, limit: 1 });
    expect(day).toMatchObject({ openTime: from, closed: true });
    // 23:59 to 00:00 in 1m, 00:00 to 23:00 in 1h, to 23:45 in 15m, to 23:59 in 1m.
    expect(rowsRead).toBe(1 + 23 + 3 + 14);
  });
});
