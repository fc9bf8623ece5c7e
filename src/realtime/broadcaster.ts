/**
 * Price fan-out: at most one `price_update` per symbol per `intervalMs`, and only when the symbol
 * has a newer sample. A sample arriving when the symbol's last update is at least an interval old
 * leaves at once; one arriving sooner waits for the interval to be up and then only the newest
 * quote leaves (coalesced, never a backlog). Each update is encoded once for its symbol's room and
 * sent `volatile`, so a slow client loses updates instead of growing a buffer (SPEC section 6).
 */
import type { PriceSample } from '../domain/price.js';
import type { PriceUpdate } from './events.js';

export interface Fanout {
  /** Whether anyone listens to `symbol` (a Map lookup: this runs on the ingest hot path). */
  hasListeners(symbol: string): boolean;
  send(update: PriceUpdate): void;
}

export interface BroadcasterDeps {
  readonly fanout: Fanout;
  /** The newest quote of a symbol as an update, or undefined when it has none. */
  readonly latest: (symbol: string) => Promise<PriceUpdate | undefined>;
  readonly intervalMs: number;
  /** Monotonic ms; real time, since the interval limits what clients receive per second. */
  readonly clock?: () => number;
  readonly onError?: (error: unknown) => void;
}

export interface Broadcaster {
  /** Called by the ingest hot path: marks symbols only, the work happens on the next turn. */
  onSamples(samples: readonly PriceSample[]): void;
  stats(): { updatesSent: number; symbolsWaiting: number };
  close(): void;
}

export function createBroadcaster(deps: BroadcasterDeps): Broadcaster {
  const { fanout, latest, intervalMs, onError } = deps;
  const clock = deps.clock ?? (() => performance.now());
  const dirty = new Set<string>();
  const lastSentAt = new Map<string, number>();
  const lastTimestamp = new Map<string, number>();
  const waiting = new Map<string, NodeJS.Timeout>();
  let flushQueued = false;
  let closed = false;
  let updatesSent = 0;

  const send = async (symbol: string): Promise<void> => {
    waiting.delete(symbol);
    lastSentAt.set(symbol, clock());
    const update = await latest(symbol);
    if (closed || !update || update.timestamp <= (lastTimestamp.get(symbol) ?? -1)) return;
    lastTimestamp.set(symbol, update.timestamp);
    updatesSent++;
    fanout.send(update);
  };
  const sendSafely = (symbol: string): void => {
    send(symbol).catch((error: unknown) => onError?.(error));
  };

  const flush = (): void => {
    flushQueued = false;
    if (closed) return;
    const at = clock();
    for (const symbol of dirty) {
      if (waiting.has(symbol)) continue; // its timer will send the newest quote
      const dueAt = (lastSentAt.get(symbol) ?? -Infinity) + intervalMs;
      if (at >= dueAt) sendSafely(symbol);
      else waiting.set(symbol, setTimeout(sendSafely, dueAt - at, symbol));
    }
    dirty.clear();
  };

  return {
    onSamples(samples) {
      if (closed) return;
      for (const sample of samples) {
        if (fanout.hasListeners(sample.symbol)) dirty.add(sample.symbol);
      }
      if (dirty.size > 0 && !flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    },
    stats: () => ({ updatesSent, symbolsWaiting: waiting.size }),
    close() {
      closed = true;
      for (const timer of waiting.values()) clearTimeout(timer);
      waiting.clear();
      dirty.clear();
    },
  };
}
