/**
 * Copies what ingestion produces into the cache (current prices and the sliding window) without
 * ever making ingestion wait: at most one cache write is in flight; what arrives meanwhile is
 * merged (the newest quote per symbol, samples in order) and sent when it completes. A slow or
 * unreachable cache therefore costs ingestion nothing, and what piles up is bounded by
 * MAX_PENDING_CACHE_SAMPLES (the oldest dropped and counted: the store still has every sample).
 * Samples lost either way leave a hole in the window, which the next write marks (markWindowGap)
 * before it appends anything newer, so that readers take the window as whole only after the hole.
 */
import type { Logger } from 'pino';
import type { PriceQuote, PriceSample } from '../domain/price.js';
import type { Cache } from '../ports/cache.js';

/** Samples waiting for the cache at most; about 3 minutes of 242 symbols. */
export const MAX_PENDING_CACHE_SAMPLES = 50_000;

/** Shown in `/system/status` under `cache.writer`. */
export interface CacheWriterStats {
  readonly writes: number;
  readonly failures: number;
  readonly droppedSamples: number;
  readonly lastError: string | undefined;
}

export interface CacheWriter {
  add(quotes: readonly PriceQuote[], samples: readonly PriceSample[]): void;
  /**
   * Marks the window as possibly missing samples up to `upTo` with the next write: an instance that
   * takes over ingestion cannot know what its predecessor failed to write.
   */
  markLost(upTo: number): void;
  /** Resolves when nothing is in flight or pending (tests, and a clean stop). */
  idle(): Promise<void>;
  stats(): CacheWriterStats;
}

export function createCacheWriter({ cache, logger }: { cache: Cache; logger: Logger }): CacheWriter {
  let quotes = new Map<string, PriceQuote>();
  let samples: PriceSample[] = [];
  let inFlight: Promise<void> | undefined;
  let writes = 0;
  let failures = 0;
  let droppedSamples = 0;
  let lastError: string | undefined;
  /** The newest timestamp of samples lost to the window and not yet marked as its gap. */
  let unmarkedGap: number | undefined;
  const lostUpTo = (upTo: number): void => {
    unmarkedGap = Math.max(unmarkedGap ?? upTo, upTo);
  };
  const lost = (dropped: readonly PriceSample[]): void => {
    for (const sample of dropped) lostUpTo(sample.timestamp);
  };

  const send = (): void => {
    if (inFlight || (quotes.size === 0 && samples.length === 0)) return;
    const batchQuotes = [...quotes.values()];
    const batchSamples = samples;
    const gap = unmarkedGap;
    quotes = new Map();
    samples = [];
    unmarkedGap = undefined;
    const appended = (gap === undefined ? Promise.resolve() : cache.markWindowGap(gap)).then(() =>
      cache.appendWindow(batchSamples),
    );
    // Settled, not Promise.all: the write is in flight until both parts are done.
    inFlight = Promise.allSettled([cache.setQuotes(batchQuotes), appended]).then(([quoted, windowed]) => {
      if (quoted.status === 'fulfilled' && windowed.status === 'fulfilled') {
        writes++;
        lastError = undefined; // so the next outage is logged, whatever its message
        return;
      }
      // Dropped, not retried: the next second's write carries newer prices, and the window
      // misses seconds that the store still has, marked as its gap by the next write.
      if (windowed.status === 'rejected') {
        lost(batchSamples);
        if (gap !== undefined) lostUpTo(gap);
      }
      failures++;
      const error: unknown =
        windowed.status === 'rejected' ? windowed.reason : (quoted as PromiseRejectedResult).reason;
      const message = error instanceof Error ? error.message : String(error);
      if (message !== lastError) logger.warn({ err: error }, 'cache write failed');
      lastError = message;
    });
    void inFlight.finally(() => {
      inFlight = undefined;
      send();
    });
  };

  return {
    add(newQuotes, newSamples) {
      for (const quote of newQuotes) {
        const held = quotes.get(quote.symbol);
        if (!held || quote.timestamp > held.timestamp) quotes.set(quote.symbol, quote);
      }
      samples.push(...newSamples);
      const excess = samples.length - MAX_PENDING_CACHE_SAMPLES;
      if (excess > 0) {
        lost(samples.splice(0, excess));
        droppedSamples += excess;
      }
      send();
    },
    markLost(upTo) {
      lostUpTo(upTo);
    },
    async idle() {
      while (inFlight) await inFlight;
    },
    stats: () => ({ writes, failures, droppedSamples, lastError }),
  };
}
