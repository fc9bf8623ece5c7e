/**
 * Gap repair (SPEC section 7): fetches the 1m candles a symbol may have missed, from
 * `GET /api/v3/klines`, and stores them page by page. Requests are queued per symbol (one pending
 * range each, merged), so the queue is bounded by the universe. A range fetched completely is
 * repaired even when minutes are missing from it: Binance produces no kline during a halt, and a
 * halted minute must not be fetched forever. An unknown symbol is reported, not retried. A minute
 * REST serves unfinished, the one in progress or one that ended too recently to be final on REST
 * (REST_KLINE_SETTLE_MS), is stored as forming and fetched again, alone, once it has settled (a
 * no-op if the stream closed it meanwhile), at most MAX_SETTLE_FOLLOW_UPS times in a row: the
 * stream may never close it (its subscription not live yet, or the symbol no longer tracked). A
 * later repair starts a minute before the last stored candle, so it fetches such a minute again
 * too. Every explicit gap start still owed is recorded in the store (`recordRepairGaps`) until a
 * repair covers it, so a gap that outlives its process (a crash, a restart while REST is down,
 * another instance taking over ingestion) is resumed.
 */
import type { Logger } from 'pino';
import type { RestClient } from '../binance/rest-client.js';
import { BinanceApiError, lastSettledMinute, REST_KLINE_SETTLE_MS } from '../binance/rest-wire.js';
import { MINUTE_MS, bucketOpenTime } from '../domain/intervals.js';
import type { Store } from '../ports/store.js';

/** Binance's answer for a symbol it does not know (BINANCE.md 3.8). */
export const INVALID_SYMBOL_CODE = -1121;
/** A failed repair (network down past the REST client's retries) is tried again after this. */
export const REPAIR_RETRY_DELAY_MS = 30_000;
/** The least wait before fetching an unsettled minute again, in ms (clocks may disagree a little). */
export const SETTLE_RECHECK_MIN_MS = 1000;
/**
 * The longest wait before fetching an unfinished minute again, in ms: a minute that began just
 * before the fetch has settled this long after it (a later close time means a clock far off).
 */
export const SETTLE_RECHECK_MAX_MS = MINUTE_MS + REST_KLINE_SETTLE_MS + SETTLE_RECHECK_MIN_MS;
/**
 * Follow-up fetches of unsettled minutes in a row for one symbol, at most: a local clock far ahead
 * of the exchange's would otherwise take the exchange's forming minute for an ended one for ever.
 */
export const MAX_SETTLE_FOLLOW_UPS = 5;
/**
 * Where fetching resumes after what is stored: the minute before the last stored candle. Both are
 * fetched again: the last may have been stored while still forming, the one before may have ended
 * too recently to be final on REST (REST_KLINE_SETTLE_MS).
 */
export const refetchFrom = (lastStoredOpenTime: number): number => lastStoredOpenTime - MINUTE_MS;

/**
 * The minute a new symbol's history starts: BACKFILL_LOOKBACK before `now`, or 1970 for a lookback
 * longer than that (the exchange then answers from the pair's first kline; the REST client refuses a
 * start before 1970).
 */
export const lookbackStart = (now: number, lookbackMs: number): number =>
  bucketOpenTime(Math.max(0, now - lookbackMs), MINUTE_MS);

/** Where a repair from what is stored starts: `refetchFrom` the last stored candle, else `otherwise`. */
export async function storedRepairStart<T>(
  store: Pick<Store, 'candleSpan'>,
  symbol: string,
  otherwise: T,
): Promise<number | T> {
  const span = await store.candleSpan(symbol);
  return span ? refetchFrom(span.lastOpenTime) : otherwise;
}

/**
 * Records the gap that history written past a symbol's stored series from outside the live link (an
 * import, a backfill) would otherwise hide. A restart repairs from the last stored candle only
 * (`storedRepairStart`), so candles written after a hole, or after a last candle stored while still
 * forming, would move that start past what is missing, and it would never be fetched. Called before
 * the write with the first open time it stores: when that lies past the stored series, the gap from
 * `refetchFrom` its last candle is recorded, which the live link repairs at its next start (from
 * there to the present: what is written now is fetched again too). Returns that start, or
 * undefined when nothing was recorded.
 */
export async function recordGapBeforeWrite(
  store: Pick<Store, 'candleSpan' | 'listCandles' | 'recordRepairGaps'>,
  symbol: string,
  firstOpenTime: number,
): Promise<number | undefined> {
  const span = await store.candleSpan(symbol);
  if (!span || firstOpenTime <= span.lastOpenTime) return undefined;
  if (firstOpenTime === span.lastOpenTime + MINUTE_MS) {
    const range = { symbol, resolution: '1m' as const, from: span.lastOpenTime, to: span.lastOpenTime };
    const [last] = await store.listCandles(range);
    if (last?.closed) return undefined; // the series simply continues
  }
  const since = refetchFrom(span.lastOpenTime);
  await store.recordRepairGaps([{ symbol, since }]);
  return since;
}

/** Completed repairs remembered for /system/status. */
export const RECENT_REPAIRS_KEPT = 20;

export interface RepairRecord {
  readonly symbol: string;
  readonly from: number;
  readonly to: number;
  readonly candles: number;
  readonly at: number;
}

export interface GapRepairStatus {
  readonly queued: number;
  readonly active: string | undefined;
  readonly repairedRanges: number;
  readonly candlesStored: number;
  readonly failures: number;
  readonly lastError: string | undefined;
  readonly unknownSymbols: readonly string[];
  readonly recent: readonly RepairRecord[];
}

/**
 * A queued repair: from an explicit gap start, from what is already known, or the earlier of both;
 * up to now, or up to `until` (the open time of the last minute wanted) for a follow-up.
 */
interface Wanted {
  readonly since: number | undefined;
  readonly fromKnown: boolean;
  readonly until?: number;
}

/** Two repairs of one symbol as one: the earliest start and the latest end. */
const merged = (a: Wanted, b: Wanted): Wanted => ({
  since: a.since === undefined ? b.since : Math.min(a.since, b.since ?? Infinity),
  fromKnown: a.fromKnown || b.fromKnown,
  until: a.until === undefined || b.until === undefined ? undefined : Math.max(a.until, b.until),
});

export interface GapRepair {
  /**
   * Queues a repair of `symbol`: from `from` (ms; the last frame before a disconnect, or where a
   * symbol's history ends), or without it from the last stored candle (BACKFILL_LOOKBACK for a new
   * symbol) and earlier repairs, which is only right while the symbol is not streaming yet. With
   * `until` (the open time of the last minute wanted), that minute is fetched again until REST
   * lists it final: the minute a symbol no longer streamed was forming, which nothing else closes.
   */
  request(symbol: string, from?: number, until?: number): void;
  /** Resolves when the queue is empty, nothing is running and the store has every gap record. */
  idle(): Promise<void>;
  stop(): void;
  status(): GapRepairStatus;
}

export interface GapRepairOptions {
  readonly store: Store;
  readonly rest: Pick<RestClient, 'klinesRange'>;
  readonly logger: Logger;
  readonly now: () => number;
  /** How far back a symbol with no stored candle is fetched (BACKFILL_LOOKBACK). */
  readonly lookbackMs: number;
  readonly retryDelayMs?: number;
  /** SETTLE_RECHECK_MAX_MS; tests on an accelerated clock wait in real ms, so less. */
  readonly settleRecheckMaxMs?: number;
}

export function createGapRepair(options: GapRepairOptions): GapRepair {
  const { store, rest, logger, now } = options;
  const retryDelayMs = options.retryDelayMs ?? REPAIR_RETRY_DELAY_MS;
  const queue = new Map<string, Wanted>();
  /** Per symbol: every minute before this was fetched from REST (halts included). */
  const repairedThrough = new Map<string, number>();
  /** Per symbol, follow-ups of unsettled minutes scheduled in a row. */
  const followUps = new Map<string, number>();
  const unknown = new Set<string>();
  const recent: RepairRecord[] = [];
  const retryTimers = new Set<NodeJS.Timeout>();
  let active: string | undefined;
  let worker: Promise<void> | undefined;
  let stopped = false;
  let repairedRanges = 0;
  let candlesStored = 0;
  let failures = 0;
  let lastError: string | undefined;

  // The store's record of owed gaps, written in the order of the changes: one chain of writes.
  let gapWrites: Promise<void> = Promise.resolve();
  /** The gaps of the record write waiting in the chain, which later ones join. */
  let gapBatch: Map<string, number> | undefined;
  /** Gaps whose record write failed: written with the next batch (at most one per symbol). */
  const unrecorded = new Map<string, number>();
  const earliest = (gaps: Map<string, number>, symbol: string, since: number): void => {
    gaps.set(symbol, Math.min(since, gaps.get(symbol) ?? Infinity));
  };
  const persist = (write: () => Promise<void>): void => {
    gapWrites = gapWrites.then(write).catch((error: unknown) => {
      if (!stopped) logger.warn({ err: error }, 'recording gap repairs in the store failed');
    });
  };
  function owe(symbol: string, since: number): void {
    if (!gapBatch) {
      const batch = new Map(unrecorded);
      unrecorded.clear();
      gapBatch = batch;
      persist(async () => {
        if (gapBatch === batch) gapBatch = undefined;
        try {
          await store.recordRepairGaps([...batch].map(([symbol, since]) => ({ symbol, since })));
        } catch (error) {
          for (const [symbol, since] of batch) earliest(unrecorded, symbol, since);
          throw error;
        }
      });
    }
    earliest(gapBatch, symbol, since);
  }
  /** A repair from `from` completed: the record of a gap from `from` on is settled. */
  function settle(symbol: string, from: number): void {
    gapBatch = undefined; // gaps owed from now on are recorded after this
    if ((unrecorded.get(symbol) ?? -Infinity) >= from) unrecorded.delete(symbol);
    persist(() => store.clearRepairGap(symbol, from));
    // A gap requested while this repair ran is still owed: its record, merged into the cleared
    // one, is written again after the clear.
    const queued = queue.get(symbol)?.since;
    if (queued !== undefined) owe(symbol, queued);
  }

  /** Where a repair starts: the earliest of an explicit gap start and what the store and repairs hold. */
  async function startOf(symbol: string, wanted: Wanted): Promise<number> {
    let from = wanted.since === undefined ? Infinity : bucketOpenTime(wanted.since, MINUTE_MS);
    if (wanted.fromKnown) {
      const lookback = lookbackStart(now(), options.lookbackMs);
      const stored = await storedRepairStart(store, symbol, lookback);
      from = Math.min(from, Math.max(stored, repairedThrough.get(symbol) ?? 0));
    }
    return from;
  }

  async function repair(symbol: string, wanted: Wanted): Promise<void> {
    const from = await startOf(symbol, wanted);
    const to = Math.min(now(), wanted.until ?? Infinity);
    let stored = 0;
    /** The first and the last minute that came back unfinished (in progress, or not yet settled). */
    let unfinished: { first: number; firstCloseTime: number; last: number } | undefined;
    let lastListed: number | undefined;
    for await (const page of rest.klinesRange({ symbol, from, to })) {
      if (stopped) return;
      await store.upsertCandles(page);
      stored += page.length;
      for (const candle of page) {
        lastListed = candle.openTime;
        if (candle.closed) continue;
        unfinished = {
          first: unfinished?.first ?? candle.openTime,
          firstCloseTime: unfinished?.firstCloseTime ?? candle.closeTime,
          last: candle.openTime,
        };
      }
    }
    // The last minute asked for by name, when REST does not list it yet (it lags the stream,
    // BINANCE.md 6.4), is unfinished too, with the minutes missing before it: fetched again below.
    // Once it has ended and settled, a lag no longer explains its absence: a halt, with no kline.
    const mayLag = (minute: number): boolean => minute > lastSettledMinute(now());
    if (wanted.until !== undefined && (lastListed ?? -Infinity) < wanted.until && mayLag(wanted.until)) {
      const missingFrom = lastListed === undefined ? from : lastListed + MINUTE_MS;
      const first = Math.min(unfinished?.first ?? Infinity, missingFrom);
      unfinished = { first, firstCloseTime: first + MINUTE_MS - 1, last: wanted.until };
    }
    // Everything before the first unfinished minute (or the current one) is now as the exchange
    // has it, missing minutes included; a follow-up below records its own gap after this one is
    // settled.
    const through = unfinished
      ? unfinished.first - MINUTE_MS
      : (wanted.until ?? bucketOpenTime(to, MINUTE_MS) - MINUTE_MS);
    repairedThrough.set(symbol, Math.max(through, repairedThrough.get(symbol) ?? -Infinity));
    settle(symbol, from);
    const followUp = (followUps.get(symbol) ?? 0) + 1;
    if (!unfinished || followUp > MAX_SETTLE_FOLLOW_UPS) {
      if (unfinished) {
        logger.warn({ symbol, openTime: unfinished.first }, 'minute still not settled on REST');
        owe(symbol, unfinished.first); // left for the next start (or the next repair) to fetch
      }
      followUps.delete(symbol);
    } else {
      followUps.set(symbol, followUp);
      owe(symbol, unfinished.first);
      // Fetched again once the first has settled (a minute that just ended, within seconds; the
      // one in progress, if it is still unfinished then, gets a follow-up of its own), never
      // sooner than SETTLE_RECHECK_MIN_MS nor later than SETTLE_RECHECK_MAX_MS. Only these
      // minutes: the one in progress by then is the stream's, and would be unfinished again.
      const settlesIn = unfinished.firstCloseTime + REST_KLINE_SETTLE_MS - now();
      const delay = Math.min(
        options.settleRecheckMaxMs ?? SETTLE_RECHECK_MAX_MS,
        Math.max(SETTLE_RECHECK_MIN_MS, settlesIn + SETTLE_RECHECK_MIN_MS),
      );
      later(symbol, { since: unfinished.first, fromKnown: false, until: unfinished.last }, delay);
    }
    repairedRanges++;
    candlesStored += stored;
    recent.push({ symbol, from, to, candles: stored, at: now() });
    if (recent.length > RECENT_REPAIRS_KEPT) recent.shift();
    logger.info({ symbol, from, to, candles: stored }, 'gap repaired');
  }

  /** Queues `wanted` again after `delayMs`. */
  function later(symbol: string, wanted: Wanted, delayMs = retryDelayMs): void {
    const timer = setTimeout(() => {
      retryTimers.delete(timer);
      enqueue(symbol, wanted);
    }, delayMs);
    timer.unref();
    retryTimers.add(timer);
  }

  async function run(): Promise<void> {
    while (!stopped && queue.size > 0) {
      const [symbol, wanted] = queue.entries().next().value as [string, Wanted];
      queue.delete(symbol);
      active = symbol;
      try {
        await repair(symbol, wanted);
      } catch (error) {
        failures++;
        lastError = error instanceof Error ? error.message : String(error);
        if (error instanceof BinanceApiError && error.binanceCode === INVALID_SYMBOL_CODE) {
          unknown.add(symbol);
          settle(symbol, 0);
          logger.error({ symbol }, 'the exchange does not know this symbol: not repairing it');
        } else if (!stopped) {
          logger.warn({ symbol, err: error }, 'gap repair failed; retrying later');
          later(symbol, wanted);
        }
      } finally {
        active = undefined;
      }
    }
  }

  function enqueue(symbol: string, wanted: Wanted): void {
    if (stopped || unknown.has(symbol)) return;
    if (wanted.since !== undefined) owe(symbol, wanted.since);
    const queued = queue.get(symbol);
    queue.set(symbol, queued ? merged(queued, wanted) : wanted);
    worker ??= run().finally(() => {
      worker = undefined;
    });
  }

  const api: GapRepair = {
    request(symbol, from, until) {
      enqueue(symbol, { since: from, fromKnown: from === undefined, until });
    },
    async idle() {
      while (worker) await worker;
      await gapWrites;
    },
    stop() {
      stopped = true;
      queue.clear();
      for (const timer of retryTimers) clearTimeout(timer);
      retryTimers.clear();
    },
    status: () => ({
      queued: queue.size,
      active,
      repairedRanges,
      candlesStored,
      failures,
      lastError,
      unknownSymbols: [...unknown],
      recent: [...recent],
    }),
  };
  return api;
}
