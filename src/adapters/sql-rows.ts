/**
 * What the SQL stores (sqlite/, postgres/) share: the rows of their `symbols`, `users` and `candles`
 * tables and how they become records, and how fences are kept in `settings`.
 */
import { FencedError } from '../domain/errors.js';
import type { Candle } from '../domain/candle.js';
import type { SymbolRecord } from '../domain/symbol.js';
import type { UserRecord, WriteFence } from '../ports/store.js';

/** Settings key prefix of the fencing tokens (`advanceFence`). */
export const FENCE_KEY_PREFIX = 'fence:';

/**
 * The candle columns that make two versions of a stored candle differ (every field but the event
 * time): `replaceCandles` writes a closed candle over a stored row only where one of them does.
 */
export const CANDLE_FIELDS_COMPARED = [
  'close_time',
  'open',
  'high',
  'low',
  'close',
  'volume',
  'quote_volume',
  'trades',
  'taker_buy_volume',
  'taker_buy_quote_volume',
  'closed',
] as const;

export interface SymbolRow {
  symbol: string;
  base_asset: string;
  quote_asset: string;
  status: string;
  /** SQLite's 0 or 1, PostgreSQL's boolean. */
  is_active: number | boolean;
  created_at: number;
}

export interface UserRow {
  id: string;
  name: string;
  email: string;
  role: 'user' | 'admin';
  password_hash: string;
  created_at: number;
}

/**
 * A candle row's fields as an array (the stores read candles so: thousands of rows stay cheap),
 * in the order of their column lists.
 */
export type CandleTuple = [
  openTime: number,
  closeTime: number,
  open: string,
  high: string,
  low: string,
  close: string,
  volume: string,
  quoteVolume: string,
  trades: number,
  takerBuyVolume: string,
  takerBuyQuoteVolume: string,
  /** SQLite's 0 or 1, PostgreSQL's boolean. */
  closed: number | boolean,
];

export const toCandle = (symbol: string, interval: string, row: CandleTuple): Candle => ({
  symbol,
  interval,
  openTime: row[0],
  closeTime: row[1],
  open: row[2],
  high: row[3],
  low: row[4],
  close: row[5],
  volume: row[6],
  quoteVolume: row[7],
  trades: row[8],
  takerBuyVolume: row[9],
  takerBuyQuoteVolume: row[10],
  closed: row[11] === true || row[11] === 1,
});

export const toSymbol = (row: SymbolRow): SymbolRecord => ({
  symbol: row.symbol,
  baseAsset: row.base_asset,
  quoteAsset: row.quote_asset,
  status: row.status,
  isActive: row.is_active === true || row.is_active === 1,
  createdAt: row.created_at,
});

export const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  name: row.name,
  email: row.email,
  role: row.role,
  passwordHash: row.password_hash,
  createdAt: row.created_at,
});

/** Throws FencedError unless `current`, the fence's stored token, is still the write's. */
export function checkFenceToken(fence: WriteFence, current: number): void {
  if (current !== fence.token) {
    throw new FencedError(`fence ${fence.name}: token ${fence.token} superseded by ${current}`);
  }
}
