/**
 * Opens the store named by DATABASE_URL (SPEC section 3): SQLite (a file or memory) or PostgreSQL.
 * Which URLs name a store is config.ts's `databaseUrlProblem`, so a bad one (MongoDB, accepted by
 * SPEC but not written yet, included) already stops the service at start beside every other bad
 * variable; it is asked again here for callers that did not load the config.
 */
import { ConfigError, databaseUrlProblem, SQLITE_PREFIX } from '../config.js';
import type { Store } from '../ports/store.js';
import { PostgresStore } from './postgres/store.js';
import { SqliteStore } from './sqlite/store.js';

export interface OpenStoreOptions {
  /** Told of a PostgreSQL connection lost while idle (the pool replaces it). */
  readonly onConnectionError?: (error: Error) => void;
}

/**
 * `sqlite:<path>` opens (or creates) a database file; `sqlite::memory:` an in-memory one;
 * `postgres://…` connects to a PostgreSQL server and applies the missing migrations.
 */
export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  const problem = databaseUrlProblem(databaseUrl);
  if (problem !== undefined) throw new ConfigError(`DATABASE_URL ${problem}`);
  if (databaseUrl.startsWith(SQLITE_PREFIX)) {
    return new SqliteStore({ path: databaseUrl.slice(SQLITE_PREFIX.length) });
  }
  return PostgresStore.open({ url: databaseUrl, onIdleError: options.onConnectionError });
}
