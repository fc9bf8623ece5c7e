/**
 * Price fan-out: at most one `price_update` per symbol per window of `intervalMs`, and only when the
 * symbol has a newer sample. Windows are aligned to the clock (`floor(now / intervalMs)`), not to the
 * last send: a sample arriving in a window with no update yet leaves at once, so with the exchange's
 * one ticker a second every price leaves as it arrives; a sample arriving in a window that already
 * had one waits for the next window, and then only the newest quote leaves (coalesced, never a
 * backlog). Pacing from the last send instead would let each update wait a little longer than the
 * one before (the next ticker arrives just under an interval later), drifting toward a full second
 * of delay under load (measured by bench/realtime.ts). Each update is encoded once for its symbol's
 * room; the gateway skips clients whose writes are backed up, so a slow client loses updates instead
 * of growing a buffer (SPEC section 6).
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
  /**
   * Whether an update of `symbol` is on its way to its room: marked, waiting for its window, or
   * reading its quote. A client joining the room now gets it (unless updates skip it as slow), with
   * a quote at least as new as any seen so far.
   */
  pending(symbol: string): boolean;
  stats(): { updatesSent: number; symbolsWaiting: number };
  close(): void;
}

export function createBroadcaster(deps: BroadcasterDeps): Broadcaster {
  const { fanout, latest, intervalMs, onError } = deps;
  const clock = deps.clock ?? (() => performance.now());
  const dirty = new Set<string>();
  /** Per symbol, the window (floor(clock / intervalMs)) of its last update. */
  const lastWindow = new Map<string, number>();
  const windowOf = (at: number): number => Math.floor(at / intervalMs);
  const lastTimestamp = new Map<string, number>();
  const waiting = new Map<string, NodeJS.Timeout>();
  /** Per symbol, sends reading their quote (a flush and a timer may overlap). */
  const reading = new Map<string, number>();
  let flushQueued = false;
  let closed = false;
  let updatesSent = 0;

  /** `atLeastWindow`: the window a timer was set for (a timer may fire a millisecond early). */
  const send = async (symbol: string, atLeastWindow = -Infinity): Promise<void> => {
    waiting.delete(symbol);
    lastWindow.set(symbol, Math.max(windowOf(clock()), atLeastWindow));
    reading.set(symbol, (reading.get(symbol) ?? 0) + 1);
    let update: PriceUpdate | undefined;
    try {
      update = await latest(symbol);
    } finally {
      const left = (reading.get(symbol) ?? 1) - 1;
      if (left > 0) reading.set(symbol, left);
      else reading.delete(symbol);
    }
    if (closed || !update || update.timestamp <= (lastTimestamp.get(symbol) ?? -1)) return;
    lastTimestamp.set(symbol, update.timestamp);
    updatesSent++;
    fanout.send(update);
  };
  const sendSafely = (symbol: string, atLeastWindow?: number): void => {
    send(symbol, atLeastWindow).catch((error: unknown) => onError?.(error));
  };

  const flush = (): void => {
    flushQueued = false;
    if (closed) return;
    const at = clock();
    for (const symbol of dirty) {
      if (waiting.has(symbol)) continue; // its timer will send the newest quote
      const window = windowOf(at);
      if (window > (lastWindow.get(symbol) ?? -Infinity)) sendSafely(symbol);
      else waiting.set(symbol, setTimeout(sendSafely, (window + 1) * intervalMs - at, symbol, window + 1));
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
    pending: (symbol) => dirty.has(symbol) || waiting.has(symbol) || reading.has(symbol),
    stats: () => ({ updatesSent, symbolsWaiting: waiting.size }),
    close() {
      closed = true;
      for (const timer of waiting.values()) clearTimeout(timer);
      waiting.clear();
      dirty.clear();
    },
  };
}
