/**
 * The ingestion pipeline's core: decoded market events into live state and the write buffer.
 * kline → the forming or closed 1m candle (merged by key, so duplicates and reordering are
 * harmless); miniTickers → latest quotes and a price sample per newer ticker (kept one per
 * symbol per second downstream, the latest of each second).
 * A candle the full buffer refuses, a minute whose closing update (`x: true`) never came before
 * the next minute began, and a minute that came with no update at all, are remembered as repair
 * work: Binance's close can be lost with a frame (BINANCE.md section 6, "do not rely on x:true
 * arriving").
 */
import type { MarketEvent } from '../binance/events.js';
import { MINUTE_MS } from '../domain/intervals.js';
import type { PriceSample } from '../domain/price.js';
import type { LiveState } from './live-state.js';
import type { WriteBuffer } from './write-buffer.js';

export interface IngestStats {
  readonly klines: number;
  readonly tickers: number;
  readonly samples: number;
  /** Symbols waiting for repair since the last `takeRepairs`. */
  readonly pendingRepairs: number;
}

export interface Ingest {
  /** Applies one market event; `receivedAt` is the local arrival time (ms). */
  handle(event: MarketEvent, receivedAt: number): void;
  /** Last arrival time (ms) of a kline update per symbol, for per-symbol staleness. */
  lastKlineAt(symbol: string): number | undefined;
  /** Symbols with a candle to fetch again and the earliest open time needed; clears the list. */
  takeRepairs(): { symbol: string; since: number }[];
  stats(): IngestStats;
}

export interface IngestDeps {
  readonly liveState: LiveState;
  readonly buffer: WriteBuffer;
  /** Hears each frame's new samples (the realtime fan-out); called only when there are some. */
  readonly onSamples?: (samples: readonly PriceSample[]) => void;
}

export function createIngest({ liveState, buffer, onSamples }: IngestDeps): Ingest {
  const lastKline = new Map<string, number>();
  /** Per symbol: the newest minute seen and whether its closing update arrived. */
  const newest = new Map<string, { openTime: number; closed: boolean }>();
  const repairs = new Map<string, number>();
  const needRepair = (symbol: string, since: number): void => {
    repairs.set(symbol, Math.min(since, repairs.get(symbol) ?? Infinity));
  };
  let klines = 0;
  let tickers = 0;
  let samples = 0;

  return {
    handle(event, receivedAt) {
      switch (event.type) {
        case 'kline': {
          klines++;
          const { symbol, openTime, closed } = event.candle;
          lastKline.set(symbol, receivedAt);
          if (!buffer.addCandle(event.candle)) needRepair(symbol, openTime);
          const seen = newest.get(symbol);
          if (!seen || openTime > seen.openTime) {
            // This frame is past the first minute still owed (the one seen last if it never
            // closed, else the next): that minute never closed, or came with no update at all
            // (lost, or refused as malformed), and gap repair fetches it again. A halt, which has
            // no klines, is fetched once and found empty.
            const owed = seen && (seen.closed ? seen.openTime + MINUTE_MS : seen.openTime);
            if (owed !== undefined && openTime > owed) needRepair(symbol, owed);
            newest.set(symbol, { openTime, closed });
          } else if (openTime === seen.openTime && closed) {
            seen.closed = true;
          }
          return;
        }
        case 'miniTickers': {
          tickers += event.tickers.length;
          const fresh = liveState.applyTickers(event.tickers, receivedAt);
          for (const sample of fresh) {
            samples++;
            // A refused sample is not a gap to repair: 1-second history is not refetchable.
            buffer.addSample(sample);
          }
          if (fresh.length > 0) onSamples?.(fresh);
          return;
        }
        default:
          // Connection-level events (serverShutdown, replies, control errors) belong to the stream client.
          return;
      }
    },
    lastKlineAt: (symbol) => lastKline.get(symbol),
    takeRepairs() {
      const list = [...repairs].map(([symbol, since]) => ({ symbol, since }));
      repairs.clear();
      return list;
    },
    stats: () => ({ klines, tickers, samples, pendingRepairs: repairs.size }),
  };
}
