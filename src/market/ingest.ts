/**
 * The ingestion pipeline's core: decoded market events into live state and the write buffer.
 * kline → the forming or closed 1m candle (merged by key, so duplicates and reordering are
 * harmless); miniTickers → latest quotes and at most one price sample per symbol per second.
 * A candle the full buffer refuses is remembered as a gap for repair to fetch.
 */
import type { MarketEvent } from '../binance/events.js';
import type { LiveState } from './live-state.js';
import type { WriteBuffer } from './write-buffer.js';

export interface IngestStats {
  readonly klines: number;
  readonly tickers: number;
  readonly samples: number;
  /** Symbols with a candle the buffer refused since the last `takeRefusedSymbols`. */
  readonly refusedSymbols: number;
}

export interface Ingest {
  /** Applies one market event; `receivedAt` is the local arrival time (ms). */
  handle(event: MarketEvent, receivedAt: number): void;
  /** Last arrival time (ms) of a kline update per symbol, for per-symbol staleness. */
  lastKlineAt(symbol: string): number | undefined;
  /** Symbols that lost a candle to a full buffer; clears the set (repair takes them over). */
  takeRefusedSymbols(): string[];
  stats(): IngestStats;
}

export function createIngest({ liveState, buffer }: { liveState: LiveState; buffer: WriteBuffer }): Ingest {
  const lastKline = new Map<string, number>();
  const refused = new Set<string>();
  let klines = 0;
  let tickers = 0;
  let samples = 0;

  return {
    handle(event, receivedAt) {
      switch (event.type) {
        case 'kline': {
          klines++;
          lastKline.set(event.candle.symbol, receivedAt);
          if (!buffer.addCandle(event.candle)) refused.add(event.candle.symbol);
          return;
        }
        case 'miniTickers': {
          tickers += event.tickers.length;
          for (const sample of liveState.applyTickers(event.tickers, receivedAt)) {
            samples++;
            // A refused sample is not a gap to repair: 1-second history is not refetchable.
            buffer.addSample(sample);
          }
          return;
        }
        default:
          // Connection-level events (serverShutdown, replies, control errors) belong to the stream client.
          return;
      }
    },
    lastKlineAt: (symbol) => lastKline.get(symbol),
    takeRefusedSymbols() {
      const symbols = [...refused];
      refused.clear();
      return symbols;
    },
    stats: () => ({ klines, tickers, samples, refusedSymbols: refused.size }),
  };
}
