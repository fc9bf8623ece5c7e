/**
 * Versioned schema of the PostgreSQL store, the same tables and versions as the SQLite store's
 * (../sqlite/migrations.ts) in PostgreSQL's types. Applied in order at start, all in one transaction
 * under an advisory lock, and recorded in `schema_migrations`; a migration is never edited once
 * released, only followed by a new one.
 */
import type { Migration } from '../sqlite/migrations.js';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE symbols (
        symbol TEXT PRIMARY KEY,
        base_asset TEXT NOT NULL,
        quote_asset TEXT NOT NULL,
        status TEXT NOT NULL,
        is_active BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL
      );

      -- One row per symbol per second (SPEC section 4); "second" is floor(timestamp / 1000).
      CREATE TABLE price_samples (
        symbol TEXT NOT NULL,
        second BIGINT NOT NULL,
        timestamp BIGINT NOT NULL,
        price TEXT NOT NULL,
        PRIMARY KEY (symbol, second)
      );
      CREATE INDEX price_samples_by_second ON price_samples (second);

      -- Decimals are canonical decimal text: exact, and summed only in exact arithmetic.
      -- resolution '1m' is Binance's series; '15m', '1h' and '1d' are rollups rewritten from it.
      CREATE TABLE candles (
        symbol TEXT NOT NULL,
        resolution TEXT NOT NULL,
        open_time BIGINT NOT NULL,
        close_time BIGINT NOT NULL,
        open TEXT NOT NULL,
        high TEXT NOT NULL,
        low TEXT NOT NULL,
        close TEXT NOT NULL,
        volume TEXT NOT NULL,
        quote_volume TEXT NOT NULL,
        trades BIGINT NOT NULL,
        taker_buy_volume TEXT NOT NULL,
        taker_buy_quote_volume TEXT NOT NULL,
        closed BOOLEAN NOT NULL,
        event_time BIGINT NOT NULL,
        PRIMARY KEY (symbol, resolution, open_time)
      );

      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      -- Emails are unique regardless of ASCII case, as in SQLite's COLLATE NOCASE (the C collation's
      -- lower() folds A-Z only, whatever the database's locale).
      CREATE UNIQUE INDEX users_email_lower ON users (lower(email COLLATE "C"));

      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'pending gap repairs',
    sql: `
      -- Per symbol, the first minute a gap repair still owes (market/gap-repair.ts).
      CREATE TABLE repair_gaps (
        symbol TEXT PRIMARY KEY,
        since BIGINT NOT NULL
      );
    `,
  },
];
