import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../adapters/sqlite/store.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../domain/intervals.js';
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
    // Sessions of the default calendar open at 21:00 and 01:00 UTC around both pieces' midnights.
    expect(await openTimes({ symbol: SYMBOL, interval: 'session', limit: 2 })).toEqual([
      FIRST - 3 * HOUR_MS,
      SECOND - 3 * HOUR_MS,
    ]);
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
