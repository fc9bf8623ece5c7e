/**
 * Deletes price samples older than PRICE_HISTORY_RETENTION, at start and then periodically, on the
 * instance that ingests only: instances share one store, and a sweep from each of them would compete
 * for its write lock (SQLite's busy timeout) to delete the same rows.
 */
import { setImmediate } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Store } from '../ports/store.js';

/** How often old price samples are swept, in ms. */
export const RETENTION_SWEEP_INTERVAL_MS = 60_000;
/**
 * Samples one delete removes at most. A sweep behind by a day of samples (242 symbols, one a
 * second: 21 million rows, after a day down) deletes them in many short statements, one event-loop
 * turn apart (about 16 ms each on SQLite here): one statement would hold SQLite's write lock and
 * the event loop for half a minute, and run past PostgreSQL's statement timeout on every try, so
 * the table would never shrink.
 */
export const RETENTION_DELETE_BATCH = 10_000;

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
  /** Samples one delete removes at most (default RETENTION_DELETE_BATCH). */
  batchSize?: number;
}): Retention {
  const batchSize = deps.batchSize ?? RETENTION_DELETE_BATCH;
  let stopped = false;
  /** Whether the timer's sweep is still under way: a long one is not joined by another. */
  let running = false;
  const sweep = async (): Promise<number> => {
    const before = deps.now() - deps.retentionMs;
    let total = 0;
    // Until a delete finds fewer than a batch, or this instance stops ingesting (or stops).
    while (!stopped && deps.ingesting()) {
      const deleted = await deps.store.deletePriceSamplesBefore(before, batchSize);
      total += deleted;
      if (deleted < batchSize) break;
      await setImmediate(); // let the live link and the clients have the event loop between batches
    }
    if (total > 0) deps.logger.debug({ deleted: total }, 'pruned old price samples');
    return total;
  };
  const run = (): void => {
    if (running) return;
    running = true;
    sweep()
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'price sample pruning failed'))
      .finally(() => (running = false));
  };
  run();
  const timer = setInterval(run, RETENTION_SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    sweep,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
