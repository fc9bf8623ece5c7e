import { describe, expect, it } from 'vitest';
import { createSyntheticMarket } from '../../test/helpers/synthetic-market.js';
import { aggregateCandles, mergeCandle, shouldReplace, type StoredCandle } from './candle.js';
import {
  createFixedGrid,
  DAY_MS,
  HOUR_MS,
  intervalMs,
  MINUTE_MS,
  parseTimeZoneOffset,
  STANDARD_INTERVAL_NAMES,
} from './intervals.js';

const at = (iso: string) => Date.parse(iso);
const START = at('2024-03-01T00:00:00Z');

function kline(overrides: Partial<StoredCandle>): StoredCandle {
  return {
    symbol: 'BTCUSDT',
    interval: '1m',
    openTime: START,
    closeTime: START + MINUTE_MS - 1,
    open: '100',
    high: '101',
    low: '99',
    close: '100.5',
    volume: '1',
    quoteVolume: '100.5',
    trades: 3,
    takerBuyVolume: '0.5',
    takerBuyQuoteVolume: '50.25',
    closed: false,
    eventTime: START + 1000,
    ...overrides,
  };
}

describe('merging live kline updates', () => {
  it('takes the first update of a candle', () => {
    const update = kline({});
    expect(mergeCandle(undefined, update)).toBe(update);
  });

  it('replaces a forming candle with a newer forming update', () => {
    const older = kline({ eventTime: START + 1000 });
    const newer = kline({ eventTime: START + 3000, close: '100.7', trades: 5 });
    expect(mergeCandle(older, newer)).toBe(newer);
  });

  it('never lets an older update overwrite a newer one', () => {
    const newer = kline({ eventTime: START + 3000, trades: 5 });
    const older = kline({ eventTime: START + 1000, trades: 3 });
    expect(mergeCandle(newer, older)).toBe(newer);
  });

  it('ignores a duplicate: same event time changes nothing', () => {
    const first = kline({});
    expect(shouldReplace(first, { ...first })).toBe(false);
  });

  it('lets the closing update replace a forming candle even when its event time is not newer', () => {
    const forming = kline({ eventTime: START + 59_000 });
    const closing = kline({ closed: true, eventTime: START + 58_000 });
    expect(mergeCandle(forming, closing)).toBe(closing);
  });

  it('keeps a closed candle final against any later update', () => {
    const closed = kline({ closed: true, eventTime: START + 60_000 });
    expect(mergeCandle(closed, kline({ eventTime: START + 90_000, close: '1' }))).toBe(closed);
    expect(mergeCandle(closed, kline({ closed: true, eventTime: START + 90_000, close: '1' }))).toBe(closed);
  });

  it('arrives at the same candle whatever the order of updates', () => {
    const updates = [1, 2, 3, 4, 5].map((i) =>
      kline({ eventTime: START + i * 10_000, trades: i, closed: i === 5 }),
    );
    const orders = [
      updates,
      [...updates].reverse(),
      [updates[2]!, updates[4]!, updates[0]!, updates[3]!, updates[1]!],
    ];
    for (const order of orders) {
      const merged = order.reduce<StoredCandle | undefined>(
        (kept, update) => mergeCandle(kept, update),
        undefined,
      );
      expect(merged).toBe(updates[4]);
    }
  });
});

describe('aggregating 1m candles', () => {
  const market = createSyntheticMarket({ start: at('2024-03-30T00:00:00Z'), minutes: 3 * 1440, seed: 7 });

  it.each(STANDARD_INTERVAL_NAMES)('builds exact %s candles from 1m candles (UTC)', (interval) => {
    const grid = createFixedGrid(intervalMs(interval));
    const candles = aggregateCandles(market.candles1m, { interval, bucketAt: (t) => grid.bucketAt(t) });
    expect(candles.length).toBe((3 * DAY_MS) / intervalMs(interval));
    for (const candle of candles) {
      expect(candle).toEqual(market.truth(candle.openTime, candle.closeTime, interval));
    }
  });

  it.each([
    ['4h', '-1:00'],
    ['1d', '8'],
    ['1h', '05:45'],
    ['12h', '-3:30'],
    ['30m', '+14:00'],
    ['6h', '8'],
  ] as const)('builds exact %s candles with timeZone %s', (interval, timeZone) => {
    const offset = parseTimeZoneOffset(timeZone);
    const grid = createFixedGrid(intervalMs(interval), offset);
    const candles = aggregateCandles(market.candles1m, { interval, bucketAt: (t) => grid.bucketAt(t) });
    for (const candle of candles) {
      expect((candle.openTime + offset) % intervalMs(interval)).toBe(0);
      expect(candle.closeTime).toBe(candle.openTime + intervalMs(interval) - 1);
      // Edge buckets hold only the minutes the market has; the truth covers the same minutes.
      expect(candle).toEqual(market.truth(candle.openTime, candle.closeTime, interval));
    }
  });

  it('invents nothing for a halt: missing minutes stay missing and whole halted buckets do not appear', () => {
    const halted = new Set(Array.from({ length: 300 }, (_, i) => 60 + i)); // 01:00 to 06:00 halted
    const gappy = createSyntheticMarket({ start: START, minutes: 720, seed: 3, haltedMinutes: halted });
    const grid = createFixedGrid(HOUR_MS);
    const hours = aggregateCandles(gappy.candles1m, { interval: '1h', bucketAt: (t) => grid.bucketAt(t) });
    expect(hours.map((c) => (c.openTime - START) / HOUR_MS)).toEqual([0, 6, 7, 8, 9, 10, 11]);
    for (const candle of hours) expect(candle).toEqual(gappy.truth(candle.openTime, candle.closeTime, '1h'));
  });

  it('reports a bucket as forming while any candle in it is forming or its end has not passed', () => {
    const minutes = createSyntheticMarket({ start: START, minutes: 120, seed: 9 }).candles1m;
    const lastForming = [...minutes.slice(0, -1), { ...minutes.at(-1)!, closed: false }];
    const grid = createFixedGrid(HOUR_MS);
    const bucketAt = (t: number) => grid.bucketAt(t);
    const late = START + 3 * HOUR_MS;
    expect(
      aggregateCandles(lastForming, { interval: '1h', bucketAt, now: late }).map((c) => c.closed),
    ).toEqual([true, false]);
    const mid = START + HOUR_MS + 30 * MINUTE_MS;
    expect(aggregateCandles(minutes, { interval: '1h', bucketAt, now: mid }).map((c) => c.closed)).toEqual([
      true,
      false,
    ]);
    expect(aggregateCandles(minutes, { interval: '1h', bucketAt, now: late }).map((c) => c.closed)).toEqual([
      true,
      true,
    ]);
  });

  it('returns nothing for no candles', () => {
    expect(
      aggregateCandles([], { interval: '1h', bucketAt: (t) => ({ openTime: t, closeTime: t }) }),
    ).toEqual([]);
  });
});
