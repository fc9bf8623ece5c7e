/**
 * What Binance sends on a combined-stream connection (`/stream?streams=…`, BINANCE.md section 1.2),
 * exactly as it arrives: one-letter keys, prices and volumes as decimal strings, times in epoch ms.
 * These types describe the exchange's documents; nothing outside binance/ should see them, and
 * nothing is trusted to match them until binance/decode.ts has checked it.
 */

/** Every market event on a `/stream` connection is wrapped with the name of the stream it came from. */
export interface WireCombinedFrame<TData = WireStreamPayload> {
  /** Lower-case symbols (`btcusdt@kline_1m`), or `!miniTicker@arr`, or `!serverShutdown`. */
  readonly stream: string;
  readonly data: TData;
}

/** `<symbol>@kline_<interval>` payload, field for field as in BINANCE.md section 1.5. */
export interface WireKlineEvent {
  readonly e: 'kline';
  /** Event time, epoch ms. */
  readonly E: number;
  /** Upper-case symbol; may hold non-ASCII letters (BINANCE.md section 1.2). */
  readonly s: string;
  readonly k: WireKline;
}

export interface WireKline {
  /** Open time, epoch ms. */
  readonly t: number;
  /** Close time: `t + intervalMs - 1`. */
  readonly T: number;
  readonly s: string;
  /** Case-sensitive: `1m` is a minute, `1M` a month (BINANCE.md section 1.4). */
  readonly i: string;
  /** First and last trade ids. */
  readonly f: number;
  readonly L: number;
  readonly o: string;
  readonly c: string;
  readonly h: string;
  readonly l: string;
  /** Base asset volume. */
  readonly v: string;
  /** Number of trades. */
  readonly n: number;
  /** Whether this update closes the kline (not the 24hrTicker's `x`, which is a price). */
  readonly x: boolean;
  /** Quote asset volume. */
  readonly q: string;
  /** Taker buy base asset volume. */
  readonly V: string;
  /** Taker buy quote asset volume. */
  readonly Q: string;
  /** Documented as "Ignore". */
  readonly B: string;
}

/** One element of `!miniTicker@arr` (the same document as `<symbol>@miniTicker`, BINANCE.md section 1.6). */
export interface WireMiniTicker {
  readonly e: '24hrMiniTicker';
  /** Event time, epoch ms. */
  readonly E: number;
  readonly s: string;
  /** Close (last) price. */
  readonly c: string;
  readonly o: string;
  readonly h: string;
  readonly l: string;
  /** Base asset volume over the rolling 24 h. */
  readonly v: string;
  /** Quote asset volume over the rolling 24 h. */
  readonly q: string;
}

/** Sent before the server drops the connection; not subscribable (BINANCE.md section 2.1). */
export interface WireServerShutdown {
  readonly e: 'serverShutdown';
  /** Event time, epoch ms. */
  readonly E: number;
}

/** What a combined frame may carry for the streams this service subscribes to. */
export type WireStreamPayload = WireKlineEvent | readonly WireMiniTicker[] | WireServerShutdown;

export type WireKlineFrame = WireCombinedFrame<WireKlineEvent>;
export type WireMiniTickerArrayFrame = WireCombinedFrame<readonly WireMiniTicker[]> & {
  readonly stream: '!miniTicker@arr';
};
export type WireServerShutdownFrame = WireCombinedFrame<WireServerShutdown> & {
  readonly stream: '!serverShutdown';
};

/**
 * A request id: a 64-bit signed integer, an alphanumeric string of at most 36 characters, or null
 * (BINANCE.md section 2.3). Integers beyond 2^53 lose precision in JSON.parse.
 */
export type WireRequestId = number | string | null;

/** Answer to SUBSCRIBE, UNSUBSCRIBE, SET_PROPERTY (`result: null`), LIST_SUBSCRIPTIONS, GET_PROPERTY. */
export interface WireControlReply {
  readonly result: unknown;
  readonly id: WireRequestId;
}

/** A rejected control request; positive codes 0–3, `id` absent when the request had none (BINANCE.md section 2.3). */
export interface WireControlError {
  readonly code: number;
  readonly msg: string;
  readonly id?: WireRequestId;
}

/** Every top-level document a combined-stream connection may deliver; a raw `serverShutdown` included. */
export type WireFrame =
  | WireKlineFrame
  | WireMiniTickerArrayFrame
  | WireServerShutdownFrame
  | WireServerShutdown
  | WireControlReply
  | WireControlError;
