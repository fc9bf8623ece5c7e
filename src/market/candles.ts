/**
 * Candle reads: any standard interval (with Binance's `timeZone` offset) or the session interval,
 * aggregated on read from the coarsest stored rows that tile each requested bucket.
 */
import { aggregateCandles, type Candle } from '../domain/candle.js';
import {
  createFixedGrid,
  intervalMs,
  MINUTE_MS,
  type Bucket,
  type BucketGrid,
  type StandardInterval,
} from '../domain/intervals.js';
import { coveringRanges } from '../domain/rollups.js';
import type { SessionCalendar } from '../domain/session-calendar.js';
import type { CandleSpan, Store } from '../ports/store.js';
import { TRADING_STATUS } from './universe.js';

/**
 * Times one read that came up short of `limit` continues at the next stored candle beyond what it
 * read (past halts, or history imported in pieces) before it answers with what it found. Each
 * step is one indexed lookup, whatever the length of the stretch it skips.
 */
export const MAX_GAP_JUMPS = 32;

export interface CandleRead {
  readonly symbol: string;
  readonly interval: StandardInterval | 'session';
  /** Binance `timeZone` offset in ms; standard intervals only. */
  readonly offsetMs?: number;
  /** Open times in [from, to]; with `from`, the oldest `limit` from it, else the newest `limit` up to `to`. */
  readonly from?: number;
  readonly to?: number;
  readonly limit: number;
}

export interface CandleReader {
  read(request: CandleRead): Promise<Candle[]>;
  /** The session holding `time`. */
  sessionAt(time: number): Bucket;
}

export interface CandleReaderDeps {
  readonly store: Store;
  readonly calendar: SessionCalendar;
  readonly now: () => number;
}

/**
 * The open time of the first bucket shown. A bucket that opens before the first stored candle is
 * partial (a backfill's lookback counts back from any minute, an import starts at a file's first):
 * once closed it would be a candle unlike the exchange's, so it is left out. While it is still
 * forming it is shown, as the current candle as far as it is known, rather than none at all.
 */
function firstShown(grid: BucketGrid, span: CandleSpan, now: number): number {
  const first = grid.bucketAt(span.firstOpenTime);
  return first.openTime < span.firstOpenTime && first.closeTime < now
    ? grid.next(first).openTime
    : first.openTime;
}

/**
 * Whether `candle`, closed by its rows, holds the last stored minute with the candle's own end
 * still to come after it: the minutes between are missing (ingestion stopped, a gap not repaired
 * yet, history imported up to there), so it is not final unless the exchange has none either.
 */
const endsBeforeItsCandle = (candle: Candle, span: CandleSpan): boolean =>
  candle.closed && span.lastOpenTime + MINUTE_MS - 1 < candle.closeTime;

/** Up to `count` buckets from `start` in one direction, from `earliest` to the stored span's end. */
function walk(
  grid: BucketGrid,
  start: Bucket,
  count: number,
  direction: 1 | -1,
  earliest: number,
  latest: number,
): Bucket[] {
  const buckets: Bucket[] = [];
  let bucket = start;
  while (buckets.length < count && bucket.openTime >= earliest && bucket.openTime <= latest) {
    buckets.push(bucket);
    bucket = direction === 1 ? grid.next(bucket) : grid.previous(bucket);
  }
  return direction === 1 ? buckets : buckets.reverse();
}

export function createCandleReader({ store, calendar, now }: CandleReaderDeps): CandleReader {
  const gridFor = (request: CandleRead): BucketGrid =>
    request.interval === 'session'
      ? calendar
      : createFixedGrid(intervalMs(request.interval), request.offsetMs ?? 0);

  const fetch = async (
    request: CandleRead,
    grid: BucketGrid,
    buckets: readonly Bucket[],
  ): Promise<Candle[]> => {
    if (buckets.length === 0) return [];
    const rows = await store.listCandleRanges(request.symbol, coveringRanges(buckets));
    return aggregateCandles(rows, {
      interval: request.interval,
      bucketAt: (time) => grid.bucketAt(time),
      now: now(),
    });
  };

  return {
    sessionAt: (time) => calendar.bucketAt(time),

    async read(request) {
      const span = await store.candleSpan(request.symbol);
      if (!span) return [];
      const grid = gridFor(request);
      const to = request.to ?? Number.MAX_SAFE_INTEGER;
      const earliest = firstShown(grid, span, now());
      const latest = Math.min(span.lastOpenTime, to);
      const forward = request.from !== undefined;
      let candles: Candle[] = [];
      let start: Bucket;
      if (forward) {
        const from = Math.max(request.from ?? 0, earliest);
        start = grid.bucketAt(from);
        if (start.openTime < from) start = grid.next(start);
      } else {
        start = grid.bucketAt(latest);
      }
      const direction = forward ? 1 : -1;
      // A halt leaves buckets empty, so `limit` buckets may hold fewer candles: after each range,
      // the next one starts at the bucket of the nearest stored candle beyond it, however far.
      for (let jumps = 0; ; jumps++) {
        const wanted = request.limit - candles.length;
        const buckets = walk(grid, start, wanted, direction, earliest, latest);
        const edge = forward ? buckets.at(-1) : buckets[0];
        if (!edge) break;
        const found = await fetch(request, grid, buckets);
        candles = forward ? [...candles, ...found] : [...found, ...candles];
        // A walk cut short reached the stored span's end (or `to`): nothing lies beyond it.
        if (candles.length >= request.limit || buckets.length < wanted || jumps === MAX_GAP_JUMPS) break;
        const beyond = forward ? edge.closeTime + 1 : edge.openTime - 1;
        const nearest = await store.nearestOpenTime(request.symbol, beyond, direction);
        if (nearest === undefined) break;
        start = grid.bucketAt(nearest);
      }
      // An active (`isActive`), trading symbol's stored series that ends inside its last candle
      // leaves that candle still being formed: its missing minutes are on their way (ingestion
      // catching up, a gap being repaired), so it is not final yet. An inactive symbol gets no more
      // minutes, and a halted or delisted one has none after it on the exchange: its candle is
      // final.
      const last = candles.at(-1);
      if (last && endsBeforeItsCandle(last, span)) {
        const record = await store.getSymbol(request.symbol);
        if (record?.isActive && record.status === TRADING_STATUS) {
          candles = [...candles.slice(0, -1), { ...last, closed: false }];
        }
      }
      return candles;
    },
  };
}
