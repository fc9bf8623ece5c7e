/**
 * The in-process cache (REDIS_URL unset): the Cache port over plain maps, with the Redis adapter's
 * behaviour, checked by the same contract suite (test/cache-contract.ts).
 *
 * Time that decides expiry comes from the injected `now` (wall clock by default); window trimming
 * follows the samples' own timestamps, as the port says. Expired entries are never returned, and a
 * sweep every MEMORY_CACHE_SWEEP_INTERVAL_MS (run by writes) deletes them, so nothing grows without
 * bound: quotes and sessions by their TTL, windows by their size (at most `windowMs` of samples,
 * WINDOW_MS unless a shorter one is asked for) and, for a symbol nobody appends to any more, by
 * `windowMs` without an append. Such a window is dropped, as Redis lets it expire: all its samples
 * are older than any reader asks for by then. One process alone needs no more window than its
 * `historical_data` reads (scale/platform.ts inProcessWindowMs): for 242 symbols, 4 hours take
 * 160 MiB of heap and the default 62 minutes 43 MiB (`npm run bench -- cache`).
 *
 * A window is two parallel arrays (timestamps and prices) sorted by time with a moving head, so
 * the usual in-order append is a push and trimming moves the head; the dead prefix is cut off once
 * it is as long as the live part.
 */
import type { Candle } from '../../domain/candle.js';
import { sampleSecond, SECOND_MS, type PriceQuote, type PriceSample } from '../../domain/price.js';
import { QUOTE_TTL_MS, SESSION_TTL_MS, WINDOW_MS, type Cache, type WindowQuery } from '../../ports/cache.js';

/** How often writes sweep expired quotes, sessions and idle windows away, in ms. */
export const MEMORY_CACHE_SWEEP_INTERVAL_MS = 60_000;

export interface MemoryCacheOptions {
  /** Current time, epoch ms; decides what has expired. */
  readonly now?: () => number;
  /** How much history each window keeps, in ms: whole seconds, at most (and by default) WINDOW_MS. */
  readonly windowMs?: number;
}

interface SymbolWindow {
  /** Ascending, at most one per second; entries before `head` are trimmed. */
  timestamps: number[];
  prices: string[];
  head: number;
  /** `now` of the last append that kept a sample. */
  appendedAt: number;
}

interface Kept<T> {
  readonly value: T;
  readonly writtenAt: number;
}

export class MemoryCache implements Cache {
  readonly driver = 'memory';
  readonly windowMs: number;
  private readonly windowSeconds: number;
  private readonly now: () => number;
  private readonly quotes = new Map<string, Kept<PriceQuote>>();
  private readonly windows = new Map<string, SymbolWindow>();
  /** By symbol, then openTime. */
  private readonly sessions = new Map<string, Map<number, Kept<Candle>>>();
  private lastSweepAt: number;
  private gap: Kept<number> | undefined;

  constructor(options: MemoryCacheOptions = {}) {
    const windowMs = options.windowMs ?? WINDOW_MS;
    if (!Number.isInteger(windowMs / SECOND_MS) || windowMs < SECOND_MS || windowMs > WINDOW_MS) {
      throw new RangeError(`windowMs must be whole seconds from 1 s to WINDOW_MS, got ${windowMs}`);
    }
    this.windowMs = windowMs;
    this.windowSeconds = windowMs / SECOND_MS;
    this.now = options.now ?? Date.now;
    this.lastSweepAt = this.now();
  }

  /** What is held right now, expired entries not yet swept included: for tests. */
  size(): { quotes: number; windows: number; samples: number; sessions: number } {
    let samples = 0;
    for (const window of this.windows.values()) samples += window.timestamps.length - window.head;
    let sessions = 0;
    for (const bySymbol of this.sessions.values()) sessions += bySymbol.size;
    return { quotes: this.quotes.size, windows: this.windows.size, samples, sessions };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.quotes.clear();
    this.windows.clear();
    this.sessions.clear();
    this.gap = undefined;
  }

  async setQuotes(quotes: readonly PriceQuote[]): Promise<void> {
    const now = this.sweepIfDue();
    for (const quote of quotes) {
      const kept = this.quotes.get(quote.symbol);
      if (kept && isAlive(kept, QUOTE_TTL_MS, now) && quote.timestamp < kept.value.timestamp) continue;
      this.quotes.set(quote.symbol, { value: copyQuote(quote), writtenAt: now });
    }
  }

  async getQuotes(symbols: readonly string[]): Promise<(PriceQuote | undefined)[]> {
    const now = this.now();
    return symbols.map((symbol) => {
      const kept = this.quotes.get(symbol);
      return kept && isAlive(kept, QUOTE_TTL_MS, now) ? kept.value : undefined;
    });
  }

  async appendWindow(samples: readonly PriceSample[]): Promise<void> {
    const now = this.sweepIfDue();
    for (const sample of samples) {
      let window = this.windows.get(sample.symbol);
      if (!window || !this.isWindowAlive(window, now)) {
        window = { timestamps: [], prices: [], head: 0, appendedAt: now };
        this.windows.set(sample.symbol, window);
      }
      if (insert(window, sample, this.windowSeconds)) window.appendedAt = now;
    }
  }

  async window(query: WindowQuery): Promise<PriceSample[]> {
    const window = this.windows.get(query.symbol);
    if (!window || !this.isWindowAlive(window, this.now())) return [];
    const from = query.from ?? Number.NEGATIVE_INFINITY;
    const to = query.to ?? Number.POSITIVE_INFINITY;
    const result: PriceSample[] = [];
    const { timestamps, prices } = window;
    for (let i = firstAtOrAfter(timestamps, window.head, from); i < timestamps.length; i++) {
      const timestamp = timestamps[i]!;
      if (timestamp > to) break;
      result.push({ symbol: query.symbol, price: prices[i]!, timestamp });
    }
    return result;
  }

  async markWindowGap(upTo: number): Promise<void> {
    const now = this.now();
    const kept = this.gap && isAlive(this.gap, WINDOW_MS, now) ? this.gap.value : undefined;
    if (kept === undefined || upTo > kept) this.gap = { value: upTo, writtenAt: now };
  }

  async windowGap(): Promise<number | undefined> {
    return this.gap && isAlive(this.gap, WINDOW_MS, this.now()) ? this.gap.value : undefined;
  }

  async setSessions(
    sessions: readonly { readonly symbol: string; readonly candle: Candle }[],
  ): Promise<void> {
    const now = this.sweepIfDue();
    for (const { symbol, candle } of sessions) {
      let bySymbol = this.sessions.get(symbol);
      if (!bySymbol) {
        bySymbol = new Map();
        this.sessions.set(symbol, bySymbol);
      }
      bySymbol.set(candle.openTime, { value: copyCandle(symbol, candle), writtenAt: now });
    }
  }

  async getSession(symbol: string, openTime: number): Promise<Candle | undefined> {
    const kept = this.sessions.get(symbol)?.get(openTime);
    return kept && isAlive(kept, SESSION_TTL_MS, this.now()) ? kept.value : undefined;
  }

  /** Returns `now`, after deleting everything expired if the last sweep is old enough. */
  private sweepIfDue(): number {
    const now = this.now();
    if (now - this.lastSweepAt < MEMORY_CACHE_SWEEP_INTERVAL_MS) return now;
    this.lastSweepAt = now;
    for (const [symbol, kept] of this.quotes) {
      if (!isAlive(kept, QUOTE_TTL_MS, now)) this.quotes.delete(symbol);
    }
    for (const [symbol, window] of this.windows) {
      if (!this.isWindowAlive(window, now)) this.windows.delete(symbol);
    }
    for (const [symbol, bySymbol] of this.sessions) {
      for (const [openTime, kept] of bySymbol) {
        if (!isAlive(kept, SESSION_TTL_MS, now)) bySymbol.delete(openTime);
      }
      if (bySymbol.size === 0) this.sessions.delete(symbol);
    }
    return now;
  }

  private isWindowAlive(window: SymbolWindow, now: number): boolean {
    return now - window.appendedAt < this.windowMs;
  }
}

const isAlive = (kept: Kept<unknown>, ttlMs: number, now: number): boolean => now - kept.writtenAt < ttlMs;

/**
 * Puts a sample in its window (replacing the one of the same second) and trims the window to
 * `seconds` before its newest second. Returns false when the sample is already outside it.
 */
function insert(window: SymbolWindow, sample: PriceSample, seconds: number): boolean {
  const { timestamps, prices } = window;
  const second = sampleSecond(sample.timestamp);
  const newest = timestamps.at(-1);
  if (newest === undefined || second > sampleSecond(newest)) {
    timestamps.push(sample.timestamp);
    prices.push(sample.price);
    trim(window, second, seconds);
    return true;
  }
  if (second <= sampleSecond(newest) - seconds) return false;
  // Out of order or the same second again: find the first sample of this second or later.
  const index = firstAtOrAfter(timestamps, window.head, second * SECOND_MS);
  if (sampleSecond(timestamps[index]!) === second) {
    timestamps[index] = sample.timestamp;
    prices[index] = sample.price;
  } else {
    timestamps.splice(index, 0, sample.timestamp);
    prices.splice(index, 0, sample.price);
  }
  return true;
}

function trim(window: SymbolWindow, newestSecond: number, seconds: number): void {
  const { timestamps, prices } = window;
  const oldest = newestSecond - seconds;
  while (window.head < timestamps.length && sampleSecond(timestamps[window.head]!) <= oldest) window.head++;
  if (window.head > 0 && window.head * 2 >= timestamps.length) {
    timestamps.splice(0, window.head);
    prices.splice(0, window.head);
    window.head = 0;
  }
}

/** Index of the first timestamp >= `at` in the ascending `timestamps` from `start` on. */
function firstAtOrAfter(timestamps: readonly number[], start: number, at: number): number {
  let low = start;
  let high = timestamps.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (timestamps[middle]! < at) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The port's fields only, as Redis gives them back: nothing else of the caller's object is kept. */
function copyQuote(quote: PriceQuote): PriceQuote {
  return {
    symbol: quote.symbol,
    price: quote.price,
    timestamp: quote.timestamp,
    open24h: quote.open24h,
    high24h: quote.high24h,
    low24h: quote.low24h,
    volume24h: quote.volume24h,
    quoteVolume24h: quote.quoteVolume24h,
  };
}

function copyCandle(symbol: string, candle: Candle): Candle {
  return {
    symbol,
    interval: candle.interval,
    openTime: candle.openTime,
    closeTime: candle.closeTime,
    open: candle.open,
    high: candle.high,
    low: candle.low,
    close: candle.close,
    volume: candle.volume,
    quoteVolume: candle.quoteVolume,
    trades: candle.trades,
    takerBuyVolume: candle.takerBuyVolume,
    takerBuyQuoteVolume: candle.takerBuyQuoteVolume,
    closed: candle.closed,
  };
}
