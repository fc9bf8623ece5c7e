/**
 * The cache port (issue 6): what the service keeps for fast shared reads next to the store. With
 * REDIS_URL unset the in-process adapter serves one instance; with it set the Redis adapter shares
 * everything between instances. Both pass one contract suite (test/cache-contract.ts). The cache
 * only ever holds copies: losing it loses nothing, since the store stays the record.
 *
 * - Current prices: the newest quote per symbol, kept for QUOTE_TTL_MS after it was written.
 * - The sliding window: 1-second price samples per symbol covering the last WINDOW_MS before the
 *   symbol's newest sample, trimmed continuously as samples arrive; at most one sample per second
 *   (a later write of the same second wins). A window nobody appended to for WINDOW_MS is dropped
 *   (a symbol no longer tracked leaves nothing behind). A write of samples that was lost is marked
 *   as a window gap, so that readers take the window as whole only after it.
 * - Session aggregates: session candles by (symbol, openTime), kept SESSION_TTL_MS after written.
 */
import type { Candle } from '../domain/candle.js';
import { DAY_MS, HOUR_MS } from '../domain/intervals.js';
import { SECOND_MS, type PriceQuote, type PriceSample } from '../domain/price.js';

/** How long a current price is kept after it was written, in ms (1 hour). */
export const QUOTE_TTL_MS = HOUR_MS;
/** How much 1-second history the sliding window keeps per symbol, in ms (4 hours). */
export const WINDOW_MS = 4 * HOUR_MS;
/** The seconds WINDOW_MS spans: the most samples a symbol's window holds (one per second). */
export const WINDOW_SECONDS = WINDOW_MS / SECOND_MS;
/** How long a session aggregate is kept after it was written, in ms (24 hours). */
export const SESSION_TTL_MS = DAY_MS;

export interface WindowQuery {
  readonly symbol: string;
  /** Inclusive bounds, epoch ms; without them, the whole window. */
  readonly from?: number;
  readonly to?: number;
}

export interface Cache {
  readonly driver: 'memory' | 'redis';
  /**
   * How much history each window keeps, in ms: WINDOW_MS, or less for an in-process cache whose
   * only reader asks for less (adapters/memory/cache.ts).
   */
  readonly windowMs: number;
  /** Resolves when the cache answers; rejects while it cannot. */
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Stores each symbol's newest quote; an older quote never replaces a newer one. */
  setQuotes(quotes: readonly PriceQuote[]): Promise<void>;
  /** One entry per requested symbol, in order: undefined when none is kept. */
  getQuotes(symbols: readonly string[]): Promise<(PriceQuote | undefined)[]>;

  /** Adds samples to their symbols' windows and trims each window to WINDOW_MS. */
  appendWindow(samples: readonly PriceSample[]): Promise<void>;
  /** Samples of one symbol's window, ascending by timestamp. */
  window(query: WindowQuery): Promise<PriceSample[]>;
  /**
   * Marks the windows as possibly missing samples up to `upTo` (epoch ms): a write of them was lost.
   * The greatest mark is kept (for WINDOW_MS, after which no window reaches back to the hole).
   */
  markWindowGap(upTo: number): Promise<void>;
  /** The greatest window gap marked, or undefined: a window is whole after it. */
  windowGap(): Promise<number | undefined>;

  setSessions(sessions: readonly { readonly symbol: string; readonly candle: Candle }[]): Promise<void>;
  getSession(symbol: string, openTime: number): Promise<Candle | undefined>;
}
