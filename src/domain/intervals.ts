/**
 * Binance's standard kline intervals and their alignment, with or without a `timeZone` offset.
 *
 * Binance reads `timeZone` as a fixed offset and lays the interval grid on local wall-clock time;
 * open and close times stay UTC epoch ms (BINANCE.md section 4). So a bucket opens at
 * `floor((t + offset) / interval) * interval - offset`.
 */
import { ValidationError } from './errors.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/**
 * The latest time accepted as input, in epoch ms: the end of year 9999, the last one ISO 8601's four
 * digits write. Dates reach further (8.64e15 ms), but a calendar working near that edge steps past
 * it (a bucket's end, a day either side of a zone transition) and the time zone database throws.
 */
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export const STANDARD_INTERVALS = {
  '1m': MINUTE_MS,
  '3m': 3 * MINUTE_MS,
  '5m': 5 * MINUTE_MS,
  '15m': 15 * MINUTE_MS,
  '30m': 30 * MINUTE_MS,
  '1h': HOUR_MS,
  '2h': 2 * HOUR_MS,
  '4h': 4 * HOUR_MS,
  '6h': 6 * HOUR_MS,
  '8h': 8 * HOUR_MS,
  '12h': 12 * HOUR_MS,
  '1d': DAY_MS,
} as const;

export type StandardInterval = keyof typeof STANDARD_INTERVALS;
export const STANDARD_INTERVAL_NAMES = Object.keys(STANDARD_INTERVALS) as StandardInterval[];

/** The custom session interval of SPEC section 4. */
export const SESSION_INTERVAL = 'session';
export type CandleInterval = StandardInterval | typeof SESSION_INTERVAL;

export function isStandardInterval(name: string): name is StandardInterval {
  return Object.hasOwn(STANDARD_INTERVALS, name);
}

export function intervalMs(interval: StandardInterval): number {
  return STANDARD_INTERVALS[interval];
}

/** Binance's accepted range for `timeZone`: [-12:00, +14:00] inclusive. */
export const MIN_TIME_ZONE_OFFSET_MS = -12 * HOUR_MS;
export const MAX_TIME_ZONE_OFFSET_MS = 14 * HOUR_MS;
const TIME_ZONE_PATTERN = /^([+-])?(\d{1,2})(?::(\d{2}))?$/;

/**
 * Parses Binance's `timeZone` syntax: hours and minutes (`-1:00`, `05:45`) or hours only (`0`, `8`).
 * Returns the offset from UTC in ms (positive east of Greenwich).
 */
export function parseTimeZoneOffset(text: string): number {
  const match = TIME_ZONE_PATTERN.exec(text.trim());
  const minutes = match?.[3] === undefined ? 0 : Number(match[3]);
  if (!match || minutes > 59) {
    throw new ValidationError(`timeZone must look like "-1:00", "05:45" or "8", got "${text.slice(0, 20)}"`);
  }
  const sign = match[1] === '-' ? -1 : 1;
  const offset = sign * (Number(match[2]) * HOUR_MS + minutes * MINUTE_MS);
  if (offset < MIN_TIME_ZONE_OFFSET_MS || offset > MAX_TIME_ZONE_OFFSET_MS) {
    throw new ValidationError(`timeZone must be within [-12:00, +14:00], got "${text}"`);
  }
  return offset === 0 ? 0 : offset; // never -0
}

/** Open time (UTC epoch ms) of the bucket of length `lengthMs` holding `time`, grid shifted by `offsetMs`. */
export function bucketOpenTime(time: number, lengthMs: number, offsetMs = 0): number {
  return Math.floor((time + offsetMs) / lengthMs) * lengthMs - offsetMs;
}

/** A span of time as Binance writes candles: `closeTime` is the next open time minus 1 ms. */
export interface Bucket {
  readonly openTime: number;
  readonly closeTime: number;
}

/** Maps any time to the bucket holding it, and steps between buckets. */
export interface BucketGrid {
  bucketAt(time: number): Bucket;
  /** The bucket right after the one opening at `openTime`. */
  next(bucket: Bucket): Bucket;
  /** The bucket right before the one opening at `openTime`. */
  previous(bucket: Bucket): Bucket;
}

export function createFixedGrid(lengthMs: number, offsetMs = 0): BucketGrid {
  const at = (openTime: number): Bucket => ({ openTime, closeTime: openTime + lengthMs - 1 });
  return {
    bucketAt: (time) => at(bucketOpenTime(time, lengthMs, offsetMs)),
    next: (bucket) => at(bucket.openTime + lengthMs),
    previous: (bucket) => at(bucket.openTime - lengthMs),
  };
}
