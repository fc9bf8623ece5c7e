/**
 * What the exchange edge hands to the rest of the service: normalized, validated market events.
 * Decoding (binance/decode.ts) turns one raw combined-stream frame into at most one of these.
 */
import type { StoredCandle } from '../domain/candle.js';

/** One symbol's rolling 24 h statistics from `!miniTicker@arr` (BINANCE.md section 1.6). */
export interface MiniTicker {
  readonly symbol: string;
  /** Event time `E`, epoch ms. */
  readonly eventTime: number;
  /**
   * Decimal text exactly as Binance wrote it (validated, not canonicalized: up to ~2000 tickers a
   * second pass through here, and at most one sample per symbol per second is stored).
   */
  readonly close: string;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  /** Base asset volume over 24 h. */
  readonly volume: string;
  /** Quote asset volume over 24 h. */
  readonly quoteVolume: string;
}

export type MarketEvent =
  /** A `<symbol>@kline_1m` update: the whole current 1m candle; `closed` is the `x` flag. */
  | { readonly type: 'kline'; readonly stream: string; readonly candle: StoredCandle }
  /** `!miniTicker@arr`: only the symbols that changed in the last second. */
  | { readonly type: 'miniTickers'; readonly stream: string; readonly tickers: readonly MiniTicker[] }
  /** The server will close this connection soon: open a new one now. */
  | { readonly type: 'serverShutdown'; readonly eventTime: number }
  /** A reply to SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS…: `result` null means success. */
  | { readonly type: 'reply'; readonly id: number | string | null; readonly result: unknown }
  /** A control error (`{"code": 2, "msg": "…", "id": …}`). */
  | {
      readonly type: 'controlError';
      readonly id: number | string | null;
      readonly code: number;
      readonly message: string;
    };

export type DecodeResult =
  | { readonly ok: true; readonly event: MarketEvent }
  /** Malformed, unexpected or hostile: counted and logged by the caller, never fatal. */
  | { readonly ok: false; readonly reason: string };
