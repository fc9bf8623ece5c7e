/**
 * The bounded write buffer between ingestion and the store. Updates are merged by key as they
 * arrive (a candle by symbol and open time with the merge rule of domain/candle.ts, a price sample
 * by symbol and second), so a forming candle updated every second costs one row per flush, not one
 * per update. A flush writes everything pending; when the store fails, the batch goes back into the
 * buffer (newer arrivals win) and is retried on the next flush, without loss, until the bound. Past
 * the bound a new key is refused and counted loudly: the caller marks a gap for repair. The bound
 * counts the batch being written too: a write to a store that hangs before failing (a PostgreSQL
 * server that stopped answering) holds its batch for the store's timeout, and what arrives
 * meanwhile must not add another bound's worth each time.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { mergeCandle, type StoredCandle } from '../domain/candle.js';
import { FencedError } from '../domain/errors.js';
import { sampleSecond, type PriceSample } from '../domain/price.js';
import type { Store } from '../ports/store.js';

/** Pending writes are flushed at least this often, in ms (issue 3: "flushed at least every second"). */
export const FLUSH_INTERVAL_MS = 1000;
/** Distinct candles (symbol and open time) held at most; a day of 1m candles for ~35 symbols. */
export const MAX_PENDING_CANDLES = 50_000;
/** Distinct price samples (symbol and second) held at most; ~3 minutes of 242 symbols. */
export const MAX_PENDING_SAMPLES = 50_000;
/**
 * When the buffer stops, its last flush is tried again for this long, in ms, this many ms apart: a
 * store that is briefly busy or failing over (a lock held by an import, a PostgreSQL switchover)
 * must not cost the price samples held, which no repair can fetch again. No try starts after the
 * budget, and one try takes at most the store's own timeout (5 s, SQLite's busy timeout and
 * PostgreSQL's connect timeout), so the stop stays within SHUTDOWN_TIMEOUT_MS (10 s); only a
 * PostgreSQL server that stopped answering holds a try for its query timeout (35 s), and then the
 * forced exit at SHUTDOWN_TIMEOUT_MS ends the stop: what was held could not be stored anyway.
 */
export const FINAL_FLUSH_BUDGET_MS = 3000;
export const FINAL_FLUSH_RETRY_MS = 500;

export interface WriteBufferStats {
  /** Held: waiting, or in the batch being written. */
  readonly pendingCandles: number;
  readonly pendingSamples: number;
  readonly flushes: number;
  readonly failedFlushes: number;
  /** Flushes failed in a row, up to now (0 once one succeeds): the store is not taking writes. */
  readonly consecutiveFailedFlushes: number;
  /** Updates refused because the buffer was full (each one a gap for repair to fill). */
  readonly refused: number;
  readonly lastError: string | undefined;
}

export interface WriteBuffer {
  /** Returns false when the buffer is full and the candle was refused. */
  addCandle(candle: StoredCandle): boolean;
  /** Returns false when the buffer is full and the sample was refused. */
  addSample(sample: PriceSample): boolean;
  /** Writes everything pending; on failure keeps it for the next flush and rethrows. */
  flush(): Promise<void>;
  /** Flushes every FLUSH_INTERVAL_MS until stopped. */
  start(): void;
  /** Stops the timer and flushes what is left (SIGTERM: nothing buffered is lost). */
  stop(): Promise<void>;
  stats(): WriteBufferStats;
}

export interface WriteBufferOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly maxPendingCandles?: number;
  readonly maxPendingSamples?: number;
  readonly flushIntervalMs?: number;
}

const candleKey = (candle: StoredCandle) => `${candle.symbol}\u0000${candle.openTime}`;
const sampleKey = (sample: PriceSample) => `${sample.symbol}\u0000${sampleSecond(sample.timestamp)}`;

export function createWriteBuffer(options: WriteBufferOptions): WriteBuffer {
  const { store, logger } = options;
  const maxCandles = options.maxPendingCandles ?? MAX_PENDING_CANDLES;
  const maxSamples = options.maxPendingSamples ?? MAX_PENDING_SAMPLES;
  let candles = new Map<string, StoredCandle>();
  let samples = new Map<string, PriceSample>();
  /** The batch being written (empty between flushes): on failure it goes back into the buffer. */
  let writingCandles = new Map<string, StoredCandle>();
  let writingSamples = new Map<string, PriceSample>();
  let flushes = 0;
  let failedFlushes = 0;
  let consecutiveFailedFlushes = 0;
  let refused = 0;
  /** Refusals since the store last took a flush: each outage is logged from its first refusal. */
  let refusedInOutage = 0;
  let lastError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const refuse = (what: string): false => {
    refused++;
    refusedInOutage++;
    // Loud on an outage's first refusal and then every thousandth, so it cannot flood the log.
    if (refusedInOutage === 1 || refusedInOutage % 1000 === 0) {
      logger.error({ refused, lastError }, `write buffer full: refusing ${what} until the store recovers`);
    }
    return false;
  };

  const putCandle = (target: Map<string, StoredCandle>, candle: StoredCandle): void => {
    const key = candleKey(candle);
    target.set(key, mergeCandle(target.get(key), candle));
  };

  const putSample = (target: Map<string, PriceSample>, sample: PriceSample): void => {
    const key = sampleKey(sample);
    const existing = target.get(key);
    if (!existing || sample.timestamp > existing.timestamp) target.set(key, sample);
  };

  async function write(): Promise<void> {
    if (candles.size === 0 && samples.size === 0) return;
    writingCandles = candles;
    writingSamples = samples;
    candles = new Map();
    samples = new Map();
    // Each kind on its own: candles the store refuses must not hold back the samples, which, unlike
    // candles, cannot be fetched again. A failed kind goes back under whatever arrived meanwhile
    // (the merge keeps the newest of each key).
    const candleFailure = await attempt(writingCandles, (rows) => store.upsertCandles(rows));
    if (candleFailure) candles = mergeInto(writingCandles, candles, putCandle);
    writingCandles = new Map();
    const sampleFailure = await attempt(writingSamples, (rows) => store.insertPriceSamples(rows));
    if (sampleFailure) samples = mergeInto(writingSamples, samples, putSample);
    writingSamples = new Map();
    const failure = candleFailure ?? sampleFailure;
    if (failure === undefined) {
      flushes++;
      consecutiveFailedFlushes = 0;
      refusedInOutage = 0;
      return;
    }
    failedFlushes++;
    consecutiveFailedFlushes++;
    lastError = failure.message;
    throw failure;
  }

  /** Writes a batch (nothing for an empty one); resolves with its failure, if any. */
  const attempt = async <T>(
    batch: ReadonlyMap<string, T>,
    writeRows: (rows: T[]) => Promise<void>,
  ): Promise<Error | undefined> => {
    if (batch.size === 0) return undefined;
    try {
      await writeRows([...batch.values()]);
      return undefined;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };

  /** A failed batch with what arrived while it was written put back over it (newest of each key). */
  const mergeInto = <T>(
    batch: Map<string, T>,
    arrived: ReadonlyMap<string, T>,
    put: (target: Map<string, T>, item: T) => void,
  ): Map<string, T> => {
    for (const item of arrived.values()) put(batch, item);
    return batch;
  };

  /** Whether a new key still fits: the bound is on what is waiting plus what is being written. */
  const fits = <T>(key: string, waiting: Map<string, T>, writing: Map<string, T>, max: number): boolean =>
    waiting.has(key) || writing.has(key) || waiting.size + writing.size < max;

  const flush = async (): Promise<void> => {
    // One flush at a time: a second caller waits for the running one, then writes what is left.
    while (running) await running.catch(() => undefined);
    running = write();
    try {
      await running;
    } finally {
      running = undefined;
    }
  };

  return {
    addCandle(candle) {
      if (!fits(candleKey(candle), candles, writingCandles, maxCandles)) return refuse('candles');
      putCandle(candles, candle);
      return true;
    },
    addSample(sample) {
      if (!fits(sampleKey(sample), samples, writingSamples, maxSamples)) return refuse('price samples');
      putSample(samples, sample);
      return true;
    },
    flush,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        flush().catch((error: unknown) => logger.warn({ err: error }, 'flush failed; will retry'));
      }, options.flushIntervalMs ?? FLUSH_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      const started = performance.now();
      for (let attempt = 1; ; attempt++) {
        try {
          await flush();
          return;
        } catch (error) {
          // A fenced store refuses for good: another instance ingests now, and repairs what was held.
          const spent = performance.now() - started + FINAL_FLUSH_RETRY_MS > FINAL_FLUSH_BUDGET_MS;
          if (spent || error instanceof FencedError) {
            logger.error(
              { err: error, pendingCandles: candles.size, pendingSamples: samples.size },
              'last flush failed: what the buffer held is not stored',
            );
            throw error;
          }
          logger.warn({ err: error, attempt }, 'last flush failed; trying again');
          await sleep(FINAL_FLUSH_RETRY_MS);
        }
      }
    },
    stats: () => ({
      pendingCandles: candles.size + writingCandles.size,
      pendingSamples: samples.size + writingSamples.size,
      flushes,
      failedFlushes,
      consecutiveFailedFlushes,
      refused,
      lastError,
    }),
  };
}
