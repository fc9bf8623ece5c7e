/**
 * Rollups: exact 15m, 1h and 1d (UTC) candles kept beside the 1m series so that long intervals read
 * few rows. Each level is rebuilt from the level below (1m → 15m → 1h → 1d); a rollup is "closed" when every
 * candle in it is closed (readers add the clock condition, see aggregateCandles).
 */
import { aggregateCandles, type Candle } from './candle.js';
import { createFixedGrid, DAY_MS, HOUR_MS, MINUTE_MS, type Bucket, type BucketGrid } from './intervals.js';

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

/** Stored rows of one resolution whose open times lie in [from, to] (inclusive, epoch ms). */
export interface ResolutionRange {
  readonly resolution: Resolution;
  readonly from: number;
  readonly to: number;
}

const COARSEST_FIRST: readonly Resolution[] = ['1d', '1h', '15m', '1m'];

/**
 * The fewest stored rows that make up `buckets` (ascending, as a grid hands them out): each bucket
 * is tiled from its open to its close by the coarsest rows that lie wholly inside it, so 1m rows
 * only at ragged edges, then 15m, 1h and 1d inwards. A `1d` bucket with a `timeZone` of `0:01`
 * takes 41 rows instead of 1,440. Ranges come back ascending and disjoint; neighbours of one
 * resolution are merged, so a read takes a few ranges per bucket at most.
 */
export function coveringRanges(buckets: readonly Bucket[]): ResolutionRange[] {
  const ranges: Writable<ResolutionRange>[] = [];
  for (const bucket of buckets) {
    const end = bucket.closeTime + 1;
    let time = bucket.openTime;
    while (time < end) {
      const resolution = COARSEST_FIRST.find((candidate) => {
        const ms = RESOLUTION_MS[candidate];
        return time % ms === 0 && time + ms <= end;
      });
      if (resolution === undefined) {
        // A 1m row belongs to the bucket its open time falls in: one opening inside the bucket but
        // running past its end (a boundary off the minute) still counts here.
        if (time % MINUTE_MS === 0) add(ranges, '1m', time);
        time = Math.ceil((time + 1) / MINUTE_MS) * MINUTE_MS;
        continue;
      }
      add(ranges, resolution, time);
      time += RESOLUTION_MS[resolution];
    }
  }
  return ranges;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Appends the row of `resolution` opening at `openTime`, to the last range when it continues it. */
function add(ranges: Writable<ResolutionRange>[], resolution: Resolution, openTime: number): void {
  const last = ranges.at(-1);
  const to = openTime + RESOLUTION_MS[resolution] - 1;
  if (last?.resolution === resolution && last.to + 1 === openTime) last.to = to;
  else ranges.push({ resolution, from: openTime, to });
}
