/**
 * Live market state: the latest price and rolling 24 h statistics of every symbol, from the
 * exchange's `!miniTicker@arr` (SPEC section 4: price samples come from field `c`, event time `E`).
 * Pure in-memory state; the pipeline feeds it and readers ask it before the store.
 */
import type { MiniTicker } from '../binance/events.js';
import { canonicalDecimal } from '../domain/decimal.js';
import type { PriceQuote, PriceSample } from '../domain/price.js';

export interface LiveQuote extends PriceQuote {
  /** Local time the ticker arrived, epoch ms: what staleness is measured against. */
  readonly receivedAt: number;
}

export interface LiveState {
  /**
   * Applies one `!miniTicker@arr` frame. Returns the price samples it produces: one per ticker newer
   * than the quote held, none for an older one (a reordered frame). A second ticker in one second
   * (the exchange's pushes drift across second boundaries) gives a second sample of that second,
   * which replaces the first wherever samples are kept: the latest sample of a second wins.
   */
  applyTickers(tickers: readonly MiniTicker[], receivedAt: number): PriceSample[];
  /** Quotes another instance ingested (heard on the bus): each kept if newer than the one held. */
  applyQuotes(quotes: readonly PriceQuote[], receivedAt: number): void;
  latest(symbol: string): LiveQuote | undefined;
  /** Every symbol with a quote. */
  symbols(): string[];
  /** Symbols in `tracked` whose last quote arrived more than `staleAfterMs` before `now` (or never). */
  stale(tracked: readonly string[], now: number, staleAfterMs: number): string[];
}

export function createLiveState(): LiveState {
  const quotes = new Map<string, LiveQuote>();

  return {
    applyTickers(tickers, receivedAt) {
      const samples: PriceSample[] = [];
      for (const ticker of tickers) {
        const held = quotes.get(ticker.symbol);
        if (held && ticker.eventTime <= held.timestamp) continue;
        quotes.set(ticker.symbol, {
          symbol: ticker.symbol,
          price: ticker.close,
          timestamp: ticker.eventTime,
          open24h: ticker.open,
          high24h: ticker.high,
          low24h: ticker.low,
          volume24h: ticker.volume,
          quoteVolume24h: ticker.quoteVolume,
          receivedAt,
        });
        samples.push({
          symbol: ticker.symbol,
          price: canonicalDecimal(ticker.close),
          timestamp: ticker.eventTime,
        });
      }
      return samples;
    },
    applyQuotes(incoming, receivedAt) {
      for (const quote of incoming) {
        const held = quotes.get(quote.symbol);
        if (held && quote.timestamp <= held.timestamp) continue;
        quotes.set(quote.symbol, { ...quote, receivedAt });
      }
    },
    latest: (symbol) => quotes.get(symbol),
    symbols: () => [...quotes.keys()],
    stale(tracked, now, staleAfterMs) {
      return tracked.filter((symbol) => {
        const quote = quotes.get(symbol);
        return !quote || now - quote.receivedAt > staleAfterMs;
      });
    },
  };
}
