/**
 * Versioned schema of the SQLite store. Applied in order at start, each in its own transaction and
 * recorded in `schema_migrations`; a migration is never edited once released, only followed by a new one.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

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
        is_active INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- One row per symbol per second (SPEC section 4); "second" is floor(timestamp / 1000).
      CREATE TABLE price_samples (
        symbol TEXT NOT NULL,
        second INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        price TEXT NOT NULL,
        PRIMARY KEY (symbol, second)
      ) WITHOUT ROWID;
      CREATE INDEX price_samples_by_second ON price_samples (second);

      -- Decimals are canonical decimal text: exact, and summed only in exact arithmetic.
      -- resolution '1m' is Binance's series; '15m' and '1h' are rollups rewritten from it.
      CREATE TABLE candles (
        symbol TEXT NOT NULL,
        resolution TEXT NOT NULL,
        open_time INTEGER NOT NULL,
        close_time INTEGER NOT NULL,
        open TEXT NOT NULL,
        high TEXT NOT NULL,
        low TEXT NOT NULL,
        close TEXT NOT NULL,
        volume TEXT NOT NULL,
        quote_volume TEXT NOT NULL,
        trades INTEGER NOT NULL,
        taker_buy_volume TEXT NOT NULL,
        taker_buy_quote_volume TEXT NOT NULL,
        closed INTEGER NOT NULL,
        event_time INTEGER NOT NULL,
        PRIMARY KEY (symbol, resolution, open_time)
      ) WITHOUT ROWID;

      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'pending gap repairs',
    sql: `
      -- Per symbol, the first minute a gap repair still owes (market/gap-repair.ts).
      CREATE TABLE repair_gaps (
        symbol TEXT PRIMARY KEY,
        since INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];
