/**
 * What the SQL stores (sqlite/, postgres/) share: the rows of their `symbols` and `users` tables and
 * how they become records, and how fences are kept in `settings`.
 */
import { FencedError } from '../domain/errors.js';
import type { SymbolRecord } from '../domain/symbol.js';
import type { UserRecord, WriteFence } from '../ports/store.js';

/** Settings key prefix of the fencing tokens (`advanceFence`). */
export const FENCE_KEY_PREFIX = 'fence:';

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
