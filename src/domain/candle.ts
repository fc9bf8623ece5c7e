/**
 * Candles: the merge rule for live kline updates and the aggregation of shorter candles into longer ones.
 * Decimal fields are kept as canonical decimal strings; every sum is exact (./decimal.ts).
 */
import { addDecimal, compareDecimal, formatDecimal, parseDecimal, type Decimal } from './decimal.js';
import type { Bucket } from './intervals.js';

export interface Candle {
  readonly symbol: string;
  /** A standard interval, `session`, or a stored rollup resolution. */
  readonly interval: string;
  readonly openTime: number;
  readonly closeTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  readonly volume: string;
  readonly quoteVolume: string;
  readonly trades: number;
  readonly takerBuyVolume: string;
  readonly takerBuyQuoteVolume: string;
  readonly closed: boolean;
}

/** A stored 1m candle also remembers the exchange event time of the update that wrote it. */
export interface StoredCandle extends Candle {
  /** Event time `E` of the kline update (ms); for REST or file data, the time it was fetched or read. */
  readonly eventTime: number;
}

/**
 * Whether `incoming` should replace `existing` (SPEC section 4, BINANCE.md section 6):
 * a closed candle is final; a forming one is replaced by a closed one, or by a forming one with a
 * newer event time. Writing the same candle twice changes nothing.
 */
export function shouldReplace(existing: StoredCandle | undefined, incoming: StoredCandle): boolean {
  if (!existing) return true;
  if (existing.closed) return false;
  if (incoming.closed) return true;
  return incoming.eventTime > existing.eventTime;
}

/** Returns the candle to keep after an update arrives. */
export function mergeCandle(existing: StoredCandle | undefined, incoming: StoredCandle): StoredCandle {
  return shouldReplace(existing, incoming) ? incoming : existing!;
}

interface Accumulator {
  bucket: Bucket;
  open: string;
  high: Decimal;
  low: Decimal;
  close: string;
  volume: Decimal;
  quoteVolume: Decimal;
  trades: number;
  takerBuyVolume: Decimal;
  takerBuyQuoteVolume: Decimal;
  allClosed: boolean;
}

function start(bucket: Bucket, candle: Candle): Accumulator {
  return {
    bucket,
    open: candle.open,
    high: parseDecimal(candle.high),
    low: parseDecimal(candle.low),
    close: candle.close,
    volume: parseDecimal(candle.volume),
    quoteVolume: parseDecimal(candle.quoteVolume),
    trades: candle.trades,
    takerBuyVolume: parseDecimal(candle.takerBuyVolume),
    takerBuyQuoteVolume: parseDecimal(candle.takerBuyQuoteVolume),
    allClosed: candle.closed,
  };
}

function include(acc: Accumulator, candle: Candle): void {
  const high = parseDecimal(candle.high);
  const low = parseDecimal(candle.low);
  if (compareDecimal(high, acc.high) > 0) acc.high = high;
  if (compareDecimal(low, acc.low) < 0) acc.low = low;
  acc.close = candle.close;
  acc.volume = addDecimal(acc.volume, parseDecimal(candle.volume));
  acc.quoteVolume = addDecimal(acc.quoteVolume, parseDecimal(candle.quoteVolume));
  acc.trades += candle.trades;
  acc.takerBuyVolume = addDecimal(acc.takerBuyVolume, parseDecimal(candle.takerBuyVolume));
  acc.takerBuyQuoteVolume = addDecimal(acc.takerBuyQuoteVolume, parseDecimal(candle.takerBuyQuoteVolume));
  acc.allClosed &&= candle.closed;
}

export interface AggregateOptions {
  /** The interval name written on the result candles. */
  readonly interval: string;
  /** The bucket that holds a candle opening at `openTime`. */
  readonly bucketAt: (openTime: number) => Bucket;
  /**
   * Current time (ms). A bucket is closed when all its candles are closed and its close time has
   * passed; without `now`, only the first condition applies (used for stored rollups).
   */
  readonly now?: number;
}

/**
 * Aggregates candles sorted by open time into buckets: open = first open, close = last close,
 * high/low = max/min, volumes and trades = sums. Buckets with no candle (a halt) are not invented.
 */
export function aggregateCandles(candles: readonly Candle[], options: AggregateOptions): Candle[] {
  const result: Candle[] = [];
  let acc: Accumulator | undefined;
  let symbol = '';
  const flush = (): void => {
    if (!acc) return;
    const closed = acc.allClosed && (options.now === undefined || acc.bucket.closeTime < options.now);
    result.push({
      symbol,
      interval: options.interval,
      openTime: acc.bucket.openTime,
      closeTime: acc.bucket.closeTime,
      open: acc.open,
      high: formatDecimal(acc.high),
      low: formatDecimal(acc.low),
      close: acc.close,
      volume: formatDecimal(acc.volume),
      quoteVolume: formatDecimal(acc.quoteVolume),
      trades: acc.trades,
      takerBuyVolume: formatDecimal(acc.takerBuyVolume),
      takerBuyQuoteVolume: formatDecimal(acc.takerBuyQuoteVolume),
      closed,
    });
  };
  for (const candle of candles) {
    if (acc && candle.openTime <= acc.bucket.closeTime && candle.openTime >= acc.bucket.openTime) {
      include(acc, candle);
      continue;
    }
    flush();
    symbol = candle.symbol;
    acc = start(options.bucketAt(candle.openTime), candle);
  }
  flush();
  return result;
}

/** A candle in JSON (REST and Socket.IO): every decimal is the number `parseFloat` gives (SPEC section 4). */
export interface CandleJson {
  readonly symbol: string;
  readonly interval: string;
  readonly openTime: number;
  readonly closeTime: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly quoteVolume: number;
  readonly trades: number;
  readonly takerBuyVolume: number;
  readonly takerBuyQuoteVolume: number;
  readonly closed: boolean;
}

export function candleToJson(candle: Candle): CandleJson {
  const toNumber = Number.parseFloat;
  return {
    symbol: candle.symbol,
    interval: candle.interval,
    openTime: candle.openTime,
    closeTime: candle.closeTime,
    open: toNumber(candle.open),
    high: toNumber(candle.high),
    low: toNumber(candle.low),
    close: toNumber(candle.close),
    volume: toNumber(candle.volume),
    quoteVolume: toNumber(candle.quoteVolume),
    trades: candle.trades,
    takerBuyVolume: toNumber(candle.takerBuyVolume),
    takerBuyQuoteVolume: toNumber(candle.takerBuyQuoteVolume),
    closed: candle.closed,
  };
}
