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

export function createHistoryCache(
  load: (symbol: string) => Promise<HistoricalData>,
  currentSecond: () => number,
  maxEntries = MAX_CACHED_HISTORIES,
): (symbol: string) => Promise<HistoricalData> {
  const entries = new Map<string, { second: number; data: Promise<HistoricalData> }>();
  return (symbol) => {
    const second = currentSecond();
    const held = entries.get(symbol);
    if (held && held.second === second) return held.data;
    const data = load(symbol);
    entries.delete(symbol); // re-inserted last, so the first key is the least recently built
    entries.set(symbol, { second, data });
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
    // A failed read is not shared with the next subscriber of the same second.
    data.catch(() => {
      if (entries.get(symbol)?.data === data) entries.delete(symbol);
    });
    return data;
  };
}
