/**
 * The Socket.IO contract of SPEC section 6, declared once: the server (`gateway.ts`), the tests
 * and any TypeScript client share these maps (`Server<ClientToServerEvents, ServerToClientEvents>`,
 * client `Socket<ServerToClientEvents, ClientToServerEvents>`). Numbers are `parseFloat` of the
 * exact decimals (SPEC section 4).
 */
import type { CandleJson } from '../domain/candle.js';

/** Stable codes of `error` events; a client may branch on them. */
export const REALTIME_ERROR_CODES = [
  'INVALID_PAYLOAD',
  'UNKNOWN_SYMBOL',
  'TOO_MANY_SUBSCRIPTIONS',
  'RATE_LIMITED',
  'BACKLOG_FULL',
  'UNKNOWN_EVENT',
  'UNAVAILABLE',
  'INTERNAL_ERROR',
] as const;
export type RealtimeErrorCode = (typeof REALTIME_ERROR_CODES)[number];

export type AckResponse<T> = { success: true; data: T } | { success: false; message: string };
export type Ack<T> = (response: AckResponse<T>) => void;

export interface SymbolPayload {
  readonly symbol: string;
}
export interface MultiplePricesRequest {
  readonly symbols: readonly string[];
}
export interface IntervalDataRequest {
  readonly symbol: string;
  /** Epoch ms: the session opening at (holding) this time; the current session without it. */
  readonly intervalStart?: number;
}
export interface RecentIntervalsRequest {
  readonly symbol: string;
  /** Default 6, at most 100. */
  readonly count?: number;
}

export interface PricePoint {
  readonly timestamp: number;
  readonly price: number;
}
export interface HistoricalData {
  readonly symbol: string;
  /** Ascending by timestamp. */
  readonly data: readonly PricePoint[];
}
export interface PriceUpdate {
  readonly symbol: string;
  readonly price: number;
  readonly timestamp: number;
  readonly change24h: number;
  readonly changePercent24h: number;
  readonly high24h: number;
  readonly low24h: number;
  readonly volume24h: number;
}
export interface AllSymbols {
  readonly symbols: readonly string[];
}
export interface SymbolPrice {
  readonly symbol: string;
  readonly price: number;
  readonly timestamp: number;
}
export interface MultiplePrices {
  readonly prices: readonly SymbolPrice[];
}
/** A candle as REST writes it. */
export type CandlePayload = CandleJson;
export interface IntervalData {
  readonly symbol: string;
  /** Ascending by open time. */
  readonly intervals: readonly CandlePayload[];
}
export interface RealtimeErrorPayload {
  readonly message: string;
  readonly code: RealtimeErrorCode;
  /** The client event that failed. */
  readonly event: string;
}

export interface ClientToServerEvents {
  subscribe: (payload: SymbolPayload, ack?: Ack<SymbolPayload>) => void;
  unsubscribe: (payload: SymbolPayload, ack?: Ack<SymbolPayload>) => void;
  get_all_symbols: (ack?: Ack<AllSymbols>) => void;
  get_multiple_prices: (payload: MultiplePricesRequest, ack?: Ack<MultiplePrices>) => void;
  get_interval_data: (payload: IntervalDataRequest, ack?: Ack<IntervalData>) => void;
  get_recent_intervals: (payload: RecentIntervalsRequest, ack?: Ack<IntervalData>) => void;
}

export interface ServerToClientEvents {
  subscription_confirmed: (payload: SymbolPayload) => void;
  historical_data: (payload: HistoricalData) => void;
  price_update: (payload: PriceUpdate) => void;
  all_symbols: (payload: AllSymbols) => void;
  multiple_prices: (payload: MultiplePrices) => void;
  interval_data: (payload: IntervalData) => void;
  error: (payload: RealtimeErrorPayload) => void;
}

export type ClientEventName = keyof ClientToServerEvents;

/** What each client event's successful ack carries (the same data as its reply event). */
export interface AckData {
  subscribe: SymbolPayload;
  unsubscribe: SymbolPayload;
  get_all_symbols: AllSymbols;
  get_multiple_prices: MultiplePrices;
  get_interval_data: IntervalData;
  get_recent_intervals: IntervalData;
}
