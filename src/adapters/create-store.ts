/**
 * Builds the store named by DATABASE_URL (SPEC section 3). Only SQLite exists so far; the other
 * schemes are accepted by the config schema, so they get a clear "not supported yet" here.
 */
import { ConfigError } from '../config.js';
import type { Store } from '../ports/store.js';
import { SqliteStore } from './sqlite/store.js';

const SQLITE_PREFIX = 'sqlite:';
const UNSUPPORTED_SCHEMES = ['postgres://', 'postgresql://', 'mongodb://', 'mongodb+srv://'] as const;

/** `sqlite:<path>` opens (or creates) a database file; `sqlite::memory:` an in-memory one. */
export function createStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith(SQLITE_PREFIX)) {
    const path = databaseUrl.slice(SQLITE_PREFIX.length);
    if (path === '') {
      throw new ConfigError(
        'DATABASE_URL "sqlite:" needs a path, e.g. sqlite:data/market.db or sqlite::memory:',
      );
    }
    return new SqliteStore({ path });
  }
  // Only the scheme is echoed: the rest of a server URL may hold a password.
  const scheme = UNSUPPORTED_SCHEMES.find((prefix) => databaseUrl.startsWith(prefix));
  if (scheme) {
    throw new ConfigError(
      `DATABASE_URL ${scheme}… is not supported yet; use sqlite:<path> or sqlite::memory:`,
    );
  }
  throw new ConfigError(
    'DATABASE_URL must start with sqlite: (postgres:// and mongodb:// are not supported yet)',
  );
}
