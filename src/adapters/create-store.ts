/**
 * Opens the store named by DATABASE_URL (SPEC section 3): SQLite (a file or memory) or PostgreSQL.
 * MongoDB is accepted by the config schema but not written yet, so it gets a clear "not supported
 * yet" here.
 */
import { ConfigError } from '../config.js';
import type { Store } from '../ports/store.js';
import { PostgresStore } from './postgres/store.js';
import { SqliteStore } from './sqlite/store.js';

const SQLITE_PREFIX = 'sqlite:';
const POSTGRES_SCHEMES = ['postgres://', 'postgresql://'] as const;
const UNSUPPORTED_SCHEMES = ['mongodb://', 'mongodb+srv://'] as const;

export interface OpenStoreOptions {
  /** Told of a PostgreSQL connection lost while idle (the pool replaces it). */
  readonly onConnectionError?: (error: Error) => void;
}

/**
 * `sqlite:<path>` opens (or creates) a database file; `sqlite::memory:` an in-memory one;
 * `postgres://…` connects to a PostgreSQL server and applies the missing migrations.
 */
export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (databaseUrl.startsWith(SQLITE_PREFIX)) {
    const path = databaseUrl.slice(SQLITE_PREFIX.length);
    if (path === '') {
      throw new ConfigError(
        'DATABASE_URL "sqlite:" needs a path, e.g. sqlite:data/market.db or sqlite::memory:',
      );
    }
    return new SqliteStore({ path });
  }
  if (POSTGRES_SCHEMES.some((scheme) => databaseUrl.startsWith(scheme))) {
    return PostgresStore.open({ url: databaseUrl, onIdleError: options.onConnectionError });
  }
  // Only the scheme is echoed: the rest of a server URL may hold a password.
  const scheme = UNSUPPORTED_SCHEMES.find((prefix) => databaseUrl.startsWith(prefix));
  if (scheme) {
    throw new ConfigError(
      `DATABASE_URL ${scheme}… is not supported yet; use sqlite:<path>, sqlite::memory: or postgres://…`,
    );
  }
  throw new ConfigError(
    'DATABASE_URL must start with sqlite: or postgres:// (mongodb:// is not supported yet)',
  );
}
