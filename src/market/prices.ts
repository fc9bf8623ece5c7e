/**
 * Price reads: 1-second samples and the latest price with its rolling 24 h statistics,
 * computed exactly from the stored 1m candles.
 */
import {
  compareDecimal,
  formatDecimal,
  parseDecimal,
  percentOf,
  subtractDecimal,
} from '../domain/decimal.js';
import { aggregateCandles } from '../domain/candle.js';
import { UnavailableError } from '../domain/errors.js';
import { DAY_MS, MINUTE_MS, bucketOpenTime } from '../domain/intervals.js';
import { coveringRanges } from '../domain/rollups.js';
import type { PriceQuote, PriceSample } from '../domain/price.js';
import type { Cache } from '../ports/cache.js';
import type { Store } from '../ports/store.js';
import type { LiveState } from './live-state.js';

/** A symbol whose latest price is older than this is reported `stale`. */
export const STALE_AFTER_MS = 60_000;
/** Decimal places of `changePercent24h`, as Binance's `priceChangePercent` has. */
const CHANGE_PERCENT_DIGITS = 3;

export interface LatestPrice extends PriceQuote {
  readonly change24h: string;
  /** Percent, to 3 decimals as Binance's `priceChangePercent`, computed exactly, halves away from zero. */
  readonly changePercent24h: number;
  readonly ageMs: number;
  readonly stale: boolean;
}

export interface SampleRead {
  readonly symbol: string;
  readonly from?: number;
  readonly to?: number;
  readonly limit: number;
}

export interface PriceReader {
  /** Samples ascending: the oldest `limit` from `from`, else the newest `limit` up to `to`. */
  samples(request: SampleRead): Promise<PriceSample[]>;
  /** Throws UnavailableError when the symbol has no price yet. */
  latest(symbol: string): Promise<LatestPrice>;
  /** The live quote this process holds (heard from the exchange or the bus), without a cache or store read. */
  liveLatest(symbol: string): LatestPrice | undefined;
  /** A stored price as a quote: its 24 h figures computed from the stored candles, as `latest` does from the store. */
  quoteOf(sample: PriceSample): Promise<PriceQuote>;
}

export interface PriceReaderDeps {
  readonly store: Store;
  readonly now: () => number;
  /** Live quotes from the exchange's tickers; without them (or for a quiet symbol) the cache or the store answers. */
  readonly live?: Pick<LiveState, 'latest'>;
  /**
   * The shared cache's current quotes (issue 6): what an instance that has not heard a symbol's
   * ticker itself yet (just started, or the symbol is quiet) answers with, before the store's
   * exact but costlier 24 h aggregation. A cache that cannot answer is skipped.
   */
  readonly cache?: Pick<Cache, 'getQuotes'>;
}

export function createPriceReader({ store, now, live, cache }: PriceReaderDeps): PriceReader {
  const withChange = (quote: PriceQuote): LatestPrice => {
    const open = parseDecimal(quote.open24h);
    const change = subtractDecimal(parseDecimal(quote.price), open);
    const ageMs = Math.max(0, now() - quote.timestamp);
    return {
      symbol: quote.symbol,
      price: quote.price,
      timestamp: quote.timestamp,
      open24h: quote.open24h,
      high24h: quote.high24h,
      low24h: quote.low24h,
      volume24h: quote.volume24h,
      quoteVolume24h: quote.quoteVolume24h,
      change24h: formatDecimal(change),
      changePercent24h: percentOf(change, open, CHANGE_PERCENT_DIGITS),
      ageMs,
      stale: ageMs > STALE_AFTER_MS,
    };
  };

  const fromCache = async (symbol: string): Promise<PriceQuote | undefined> => {
    if (!cache) return undefined;
    try {
      const [quote] = await cache.getQuotes([symbol]);
      return quote;
    } catch {
      return undefined; // Redis unreachable: the outage is logged by its connection
    }
  };

  /**
   * A price with 24 h figures computed exactly from the stored candles of the 1440 minutes up to its
   * own: the coarsest stored rows that tile that day (domain/rollups.ts), about 40 rows, not 1440.
   */
  const quoteOf = async (last: PriceSample): Promise<PriceQuote> => {
    const { symbol } = last;
    const lastMinute = bucketOpenTime(last.timestamp, MINUTE_MS);
    const window = { openTime: lastMinute - DAY_MS + MINUTE_MS, closeTime: lastMinute + MINUTE_MS - 1 };
    const rows = await store.listCandleRanges(symbol, coveringRanges([window]));
    const [day] = aggregateCandles(rows, { interval: '24h', bucketAt: () => window });
    const price = parseDecimal(last.price);
    return {
      symbol,
      price: last.price,
      timestamp: last.timestamp,
      open24h: day?.open ?? last.price,
      high24h: day && compareDecimal(parseDecimal(day.high), price) > 0 ? day.high : last.price,
      low24h: day && compareDecimal(parseDecimal(day.low), price) < 0 ? day.low : last.price,
      volume24h: day?.volume ?? '0',
      quoteVolume24h: day?.quoteVolume ?? '0',
    };
  };

  /** The newest stored price (lastPrice) as a quote; undefined when the symbol has none. */
  const fromStore = async (symbol: string): Promise<PriceQuote | undefined> => {
    const last = await lastPrice(symbol);
    return last && quoteOf(last);
  };

  const lastPrice = async (symbol: string): Promise<PriceSample | undefined> => {
    const [sample] = await store.listPriceSamples({ symbol, limit: 1, order: 'desc' });
    const span = await store.candleSpan(symbol);
    if (!span) return sample;
    const [candle] = await store.listCandles({
      symbol,
      resolution: '1m',
      from: span.lastOpenTime,
      to: span.lastOpenTime,
    });
    if (!candle) return sample;
    // The last 1m close is a price too (imported or repaired history); the newer of the two wins.
    const candleTime = Math.min(candle.closeTime, now());
    return sample && sample.timestamp >= candleTime
      ? sample
      : { symbol, price: candle.close, timestamp: candleTime };
  };

  return {
    async samples(request) {
      const forward = request.from !== undefined;
      const samples = await store.listPriceSamples({ ...request, order: forward ? 'asc' : 'desc' });
      return forward ? samples : samples.reverse();
    },

    async latest(symbol) {
      const quote = live?.latest(symbol) ?? (await fromCache(symbol)) ?? (await fromStore(symbol));
      if (!quote) throw new UnavailableError(`no price recorded yet for ${symbol}`);
      return withChange(quote);
    },

    liveLatest(symbol) {
      const quote = live?.latest(symbol);
      return quote && withChange(quote);
    },

    quoteOf,
  };
}
