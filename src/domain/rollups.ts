/**
 * Rollups: exact 15m, 1h and 1d (UTC) candles kept beside the 1m series so that long intervals read
 * few rows. Each level is rebuilt from the level below (1m → 15m → 1h → 1d); a rollup is "closed" when every
 * candle in it is closed (readers add the clock condition, see aggregateCandles).
 */
import { aggregateCandles, type Candle } from './candle.js';
import { createFixedGrid, DAY_MS, HOUR_MS, MINUTE_MS, type BucketGrid } from './intervals.js';

export const RESOLUTION_MS = { '1m': MINUTE_MS, '15m': 15 * MINUTE_MS, '1h': HOUR_MS, '1d': DAY_MS } as const;
export type Resolution = keyof typeof RESOLUTION_MS;

/** Each rollup and the level it is built from. */
export const ROLLUP_SOURCES = [
  { resolution: '15m', source: '1m' },
  { resolution: '1h', source: '15m' },
  { resolution: '1d', source: '1h' },
] as const satisfies readonly { resolution: Resolution; source: Resolution }[];

const GRIDS = Object.fromEntries(
  Object.entries(RESOLUTION_MS).map(([resolution, ms]) => [resolution, createFixedGrid(ms)]),
) as Record<Resolution, BucketGrid>;

/** Open times of the `resolution` buckets that hold any of `openTimes`, ascending. */
export function touchedBuckets(openTimes: Iterable<number>, resolution: Resolution): number[] {
  const lengthMs = RESOLUTION_MS[resolution];
  const buckets = new Set<number>();
  for (const time of openTimes) buckets.add(time - (((time % lengthMs) + lengthMs) % lengthMs));
  return [...buckets].sort((a, b) => a - b);
}

/** The rollup candle of one bucket from its source candles (sorted), or undefined when there are none. */
export function buildRollup(sourceCandles: readonly Candle[], resolution: Resolution): Candle | undefined {
  const grid = GRIDS[resolution];
  return aggregateCandles(sourceCandles, {
    interval: resolution,
    bucketAt: (time) => grid.bucketAt(time),
  })[0];
}
