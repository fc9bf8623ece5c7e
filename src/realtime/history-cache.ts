/**
 * `historical_data` built once per symbol and second: every client subscribing to a symbol within
 * the same second shares one store read and one payload. Bounded by `MAX_CACHED_HISTORIES`.
 */
import type { HistoricalData } from './events.js';

/**
 * Samples in one `historical_data`, at most: 5000 one-second samples, so HISTORY_ON_SUBSCRIBE may be
 * up to 83 minutes (config.ts refuses more) and one payload stays under about 200 KB.
 */
export const MAX_HISTORY_SAMPLES = 5000;

/** Symbols whose history of the current second is kept. */
export const MAX_CACHED_HISTORIES = 512;

export interface HistoryCache {
  read(symbol: string): Promise<HistoricalData>;
  /** Histories held now: only the current second's (tests). */
  held(): number;
}

export function createHistoryCache(
  load: (symbol: string) => Promise<HistoricalData>,
  currentSecond: () => number,
  maxEntries = MAX_CACHED_HISTORIES,
): HistoryCache {
  const entries = new Map<string, Promise<HistoricalData>>();
  /** The second every entry was built in. */
  let entriesSecond: number | undefined;
  return {
    read(symbol) {
      const second = currentSecond();
      // A new second: every history held is out of date. Dropped at the first read of a later
      // second, so what stays held meanwhile is one second's subscribes at most, not a history
      // for every symbol ever subscribed.
      if (second !== entriesSecond) {
        entries.clear();
        entriesSecond = second;
      }
      const held = entries.get(symbol);
      if (held) return held;
      const data = load(symbol);
      entries.set(symbol, data);
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      // A failed read is not shared with the next subscriber of the same second.
      data.catch(() => {
        if (entries.get(symbol) === data) entries.delete(symbol);
      });
      return data;
    },
    held: () => entries.size,
  };
}
