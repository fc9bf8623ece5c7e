/**
 * Deletes price samples older than PRICE_HISTORY_RETENTION, at start and then periodically, on the
 * instance that ingests only: instances share one store, and a sweep from each of them would compete
 * for its write lock (SQLite's busy timeout) to delete the same rows.
 */
import type { Logger } from 'pino';
import type { Store } from '../ports/store.js';

/** How often old price samples are swept, in ms. */
export const RETENTION_SWEEP_INTERVAL_MS = 60_000;

export interface Retention {
  /**
   * Runs one sweep now if this instance ingests; resolves with the number of samples deleted (0 on
   * standby).
   */
  sweep(): Promise<number>;
  stop(): void;
}

export function startRetention(deps: {
  store: Store;
  retentionMs: number;
  now: () => number;
  logger: Logger;
  /** Whether this instance ingests now (holds the lease, or runs alone). */
  ingesting: () => boolean;
}): Retention {
  const sweep = async (): Promise<number> => {
    if (!deps.ingesting()) return 0;
    const deleted = await deps.store.deletePriceSamplesBefore(deps.now() - deps.retentionMs);
    if (deleted > 0) deps.logger.debug({ deleted }, 'pruned old price samples');
    return deleted;
  };
  const run = (): void => {
    sweep().catch((error: unknown) => deps.logger.warn({ err: error }, 'price sample pruning failed'));
  };
  run();
  const timer = setInterval(run, RETENTION_SWEEP_INTERVAL_MS);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
