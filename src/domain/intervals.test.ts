import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import {
  bucketOpenTime,
  createFixedGrid,
  HOUR_MS,
  intervalMs,
  isStandardInterval,
  MINUTE_MS,
  parseTimeZoneOffset,
  STANDARD_INTERVAL_NAMES,
} from './intervals.js';

const at = (iso: string) => Date.parse(iso);

describe('standard intervals', () => {
  it('knows exactly the twelve intervals of the contract', () => {
    expect(STANDARD_INTERVAL_NAMES).toEqual([
      '1m',
      '3m',
      '5m',
      '15m',
      '30m',
      '1h',
      '2h',
      '4h',
      '6h',
      '8h',
      '12h',
      '1d',
    ]);
    expect(isStandardInterval('1M')).toBe(false);
    expect(isStandardInterval('session')).toBe(false);
    expect(isStandardInterval('__proto__')).toBe(false);
    expect(intervalMs('4h')).toBe(4 * HOUR_MS);
  });

  it('aligns buckets to UTC like Binance', () => {
    const t = at('2024-09-21T13:37:12.345Z');
    expect(bucketOpenTime(t, intervalMs('1m'))).toBe(at('2024-09-21T13:37:00Z'));
    expect(bucketOpenTime(t, intervalMs('15m'))).toBe(at('2024-09-21T13:30:00Z'));
    expect(bucketOpenTime(t, intervalMs('4h'))).toBe(at('2024-09-21T12:00:00Z'));
    expect(bucketOpenTime(t, intervalMs('1d'))).toBe(at('2024-09-21T00:00:00Z'));
  });

  it('shifts the grid by a timeZone offset and keeps times in UTC', () => {
    const t = at('2024-09-21T00:30:00Z');
    // timeZone=-1:00: 4h buckets open at 01, 05, 09, 13, 17, 21 UTC.
    expect(bucketOpenTime(t, intervalMs('4h'), parseTimeZoneOffset('-1:00'))).toBe(
      at('2024-09-20T21:00:00Z'),
    );
    // timeZone=8: the 1d candle of local 2024-07-30 opens at 2024-07-29T16:00Z (BINANCE.md section 4).
    expect(bucketOpenTime(at('2024-07-30T03:00:00Z'), intervalMs('1d'), parseTimeZoneOffset('8'))).toBe(
      1722268800000,
    );
    // 05:45 moves 30m and longer, leaves 15m alone.
    const offset = parseTimeZoneOffset('05:45');
    expect(bucketOpenTime(t, intervalMs('15m'), offset)).toBe(at('2024-09-21T00:30:00Z'));
    expect(bucketOpenTime(t, intervalMs('1h'), offset)).toBe(at('2024-09-21T00:15:00Z'));
    // Whole-hour offsets leave 1h alone; 8 leaves 4h alone but moves 6h.
    expect(bucketOpenTime(t, intervalMs('4h'), parseTimeZoneOffset('8'))).toBe(at('2024-09-21T00:00:00Z'));
    expect(bucketOpenTime(t, intervalMs('6h'), parseTimeZoneOffset('8'))).toBe(at('2024-09-20T22:00:00Z'));
  });

  it('steps a fixed grid forwards and backwards with Binance close times', () => {
    const grid = createFixedGrid(intervalMs('4h'), -HOUR_MS);
    const bucket = grid.bucketAt(at('2024-09-21T02:00:00Z'));
    expect(bucket).toEqual({
      openTime: at('2024-09-21T01:00:00Z'),
      closeTime: at('2024-09-21T05:00:00Z') - 1,
    });
    expect(grid.next(bucket).openTime).toBe(bucket.closeTime + 1);
    expect(grid.previous(grid.next(bucket))).toEqual(bucket);
  });
});

describe('timeZone parameter', () => {
  it('reads every syntax Binance documents', () => {
    expect(parseTimeZoneOffset('0')).toBe(0);
    expect(parseTimeZoneOffset('8')).toBe(8 * HOUR_MS);
    expect(parseTimeZoneOffset('-1:00')).toBe(-HOUR_MS);
    expect(parseTimeZoneOffset('05:45')).toBe(5 * HOUR_MS + 45 * MINUTE_MS);
    expect(parseTimeZoneOffset('+14:00')).toBe(14 * HOUR_MS);
    expect(parseTimeZoneOffset('-12:00')).toBe(-12 * HOUR_MS);
    expect(Object.is(parseTimeZoneOffset('-0'), 0)).toBe(true);
  });

  it('rejects values outside [-12:00, +14:00] and malformed ones', () => {
    for (const bad of ['14:01', '-12:30', '15', '1:60', 'abc', '', '1:5', '+', '08:00:00', 'UTC']) {
      expect(() => parseTimeZoneOffset(bad), bad).toThrow(ValidationError);
    }
  });
});
