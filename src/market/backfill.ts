/**
 * Backfill (SPEC section 8, `npm run backfill`): fetches the 1m klines of [from, to] for each symbol
 * from `GET /api/v3/klines` and stores every page as it arrives, one transaction per page, so an
 * interruption loses at most the page in flight.
 *
 * Resuming: when the store's last candle of a symbol lies inside [from, to] and the stored series
 * covers the range up to it, fetching restarts at that last candle (fetched again: it may have been
 * stored while still forming). So a backfill interrupted mid-range (Ctrl-C, a network or database
 * failure) continues where it stopped. Each stored page is also recorded as the symbol's progress
 * (`backfill:<SYMBOL>` in the settings: the range start it fetched from and the last open time it
 * stored), so a range whose stored series has holes the exchange has too (a halt, a maintenance
 * window, minutes before the symbol was listed) still resumes after its last page. Anything else
 * is fetched in full from `from`: a range before (or after) the stored data, or one the stored
 * series does not cover. Upserts are idempotent and a closed candle is final, so fetching a candle
 * again never changes it.
 *
 * Pace: whatever the REST client's weight budget allows (it waits near the limit and on 429/418).
 * Symbols run one after another: the budget is per IP and shared, so once it binds, parallel
 * symbols only interleave the same number of requests, and sequential runs keep each symbol's
 * stored prefix contiguous, which is what resuming relies on.
 */
import type { RestClient } from '../binance/rest-client.js';
import { BinanceApiError } from '../binance/rest-wire.js';
import { AppError, ValidationError } from '../domain/errors.js';
import { MINUTE_MS, bucketOpenTime } from '../domain/intervals.js';
import { normalizeSymbol, splitSymbol } from '../domain/symbol.js';
import type { Store } from '../ports/store.js';
import { INVALID_SYMBOL_CODE, recordGapBeforeWrite, refetchFrom } from './gap-repair.js';

export type BackfillStore = Pick<
  Store,
  | 'upsertCandles'
  | 'replaceCandles'
  | 'candleSpan'
  | 'countCandles'
  | 'listCandles'
  | 'recordRepairGaps'
  | 'insertSymbolsIfMissing'
  | 'getSetting'
  | 'putSetting'
>;

/** Settings key of a symbol's backfill progress (BackfillProgressRecord as JSON). */
const backfillProgressKey = (symbol: string): string => `backfill:${symbol}`;

/** What an earlier run fetched without a break: every candle of [from, through] the exchange has. */
interface BackfillProgressRecord {
  readonly from: number;
  readonly through: number;
}

/** The recorded progress, or undefined when none or unreadable (then nothing is resumed from it). */
async function readProgress(
  store: BackfillStore,
  symbol: string,
): Promise<BackfillProgressRecord | undefined> {
  const text = await store.getSetting(backfillProgressKey(symbol));
  if (text === undefined) return undefined;
  try {
    const { from, through } = JSON.parse(text) as Partial<BackfillProgressRecord>;
    return Number.isSafeInteger(from) && Number.isSafeInteger(through)
      ? { from: from!, through: through! }
      : undefined;
  } catch {
    return undefined;
  }
}

export interface BackfillOptions {
  readonly store: BackfillStore;
  readonly rest: Pick<RestClient, 'klinesRange'>;
  readonly symbols: readonly string[];
  /** Epoch ms; the candle containing it is the first wanted. */
  readonly from: number;
  /** Epoch ms, inclusive: the last candle wanted is the one open at `to`. */
  readonly to: number;
  readonly onProgress?: (event: BackfillProgress) => void;
  /** Stops between pages; everything stored so far stays. */
  readonly signal?: AbortSignal;
  /**
   * Fetch the whole range (no resuming) and write it over what is stored, closed candles included
   * (`Store.replaceCandles`): to correct history from the exchange. Without it a closed candle
   * stored is final.
   */
  readonly replace?: boolean;
}

/** `unknown-symbol`: Binance answered -1121 Invalid symbol. `aborted`: the signal fired first. */
export type BackfillStatus = 'complete' | 'aborted' | 'unknown-symbol' | 'failed';

export interface SymbolBackfillResult {
  readonly symbol: string;
  readonly status: BackfillStatus;
  /** First open time asked of the exchange: `from`, or `refetchFrom` the last stored candle when resuming; undefined if never started. */
  readonly fetchedFrom: number | undefined;
  readonly resumed: boolean;
  /** Candles stored by this run (a re-fetched candle counts again). */
  readonly candles: number;
  /** With `replace`: candles new or changed in the store. */
  readonly changed?: number;
  /** Set when the range was written past the stored series after a hole (`recordGapBeforeWrite`). */
  readonly repairFrom?: number;
  readonly pages: number;
  readonly firstOpenTime: number | undefined;
  readonly lastOpenTime: number | undefined;
  readonly error?: string;
  /** Set when the failure is not an expected one (API, validation), so its stack is worth showing. */
  readonly unexpected?: Error;
}

/** Minutes count candles of the range, so a bar shows how far through [from, to] a symbol is. */
export type BackfillProgress =
  | {
      readonly type: 'start';
      readonly symbol: string;
      readonly totalMinutes: number;
      readonly doneMinutes: number;
      readonly fetchedFrom: number;
    }
  | {
      readonly type: 'page';
      readonly symbol: string;
      readonly totalMinutes: number;
      readonly doneMinutes: number;
      readonly candles: number;
    }
  | { readonly type: 'done'; readonly result: SymbolBackfillResult };

interface Range {
  readonly from: number;
  readonly to: number;
  readonly totalMinutes: number;
}

/** Open times in [from, to] on the minute grid, both ends included. */
const minutesBetween = (from: number, to: number): number => Math.max(0, (to - from) / MINUTE_MS + 1);

/**
 * Where fetching starts: the minute before the last stored candle when the store holds every minute
 * from `from` up to it (a backfill interrupted earlier; the last may have been stored forming, the
 * one before may have ended too recently to be final on REST), else `from`. The count is one indexed range scan; a range
 * with a hole (a downtime, or a halt: those minutes never exist) is simply fetched in full, which is
 * harmless because upserts are idempotent.
 */
async function resumePoint(store: BackfillStore, symbol: string, range: Range): Promise<number> {
  const span = await store.candleSpan(symbol);
  if (!span) return range.from;
  const last = span.lastOpenTime;
  if (last >= range.from && last <= range.to && span.firstOpenTime <= range.from) {
    const stored = await store.countCandles({ symbol, resolution: '1m', from: range.from, to: last });
    if (stored === minutesBetween(range.from, last)) return Math.max(range.from, refetchFrom(last));
  }
  // An earlier run that fetched from at or before this range's start, without a break, through a
  // minute inside the range: everything the exchange has up to that minute is stored.
  const progress = await readProgress(store, symbol);
  if (
    progress &&
    progress.from <= range.from &&
    progress.through >= range.from &&
    progress.through <= range.to
  ) {
    return Math.max(range.from, refetchFrom(progress.through));
  }
  return range.from;
}

async function backfillSymbol(
  name: string,
  range: Range,
  options: BackfillOptions,
): Promise<SymbolBackfillResult> {
  const { store, rest, signal, onProgress } = options;
  let symbol = name;
  let fetchedFrom: number | undefined;
  let resumed = false;
  let candles = 0;
  let changed = 0;
  let repairFrom: number | undefined;
  let pages = 0;
  let firstOpenTime: number | undefined;
  let lastOpenTime: number | undefined;
  const result = (status: BackfillStatus, error?: unknown): SymbolBackfillResult => {
    const base = {
      symbol,
      status,
      fetchedFrom,
      resumed,
      candles,
      ...(options.replace ? { changed } : {}),
      ...(repairFrom === undefined ? {} : { repairFrom }),
      pages,
      firstOpenTime,
      lastOpenTime,
    };
    if (error === undefined) return base;
    const failure = error instanceof Error ? error : new Error('a non-Error was thrown', { cause: error });
    // API and validation failures speak for themselves; anything else is a bug worth its stack.
    if (failure instanceof AppError) return { ...base, error: failure.message };
    return { ...base, error: failure.message, unexpected: failure };
  };
  try {
    symbol = normalizeSymbol(name);
    if (signal?.aborted) return result('aborted');
    const start = options.replace ? range.from : await resumePoint(store, symbol, range);
    fetchedFrom = start;
    resumed = start > range.from;
    const { totalMinutes } = range;
    onProgress?.({
      type: 'start',
      symbol,
      totalMinutes,
      doneMinutes: minutesBetween(range.from, start) - 1,
      fetchedFrom: start,
    });
    for await (const page of rest.klinesRange({ symbol, from: start, to: range.to })) {
      if (pages === 0) {
        // As the import does: stored history is readable through the API, but does not start
        // live tracking (a new symbol is inactive; an existing one keeps its state).
        const { baseAsset, quoteAsset } = splitSymbol(symbol);
        await store.insertSymbolsIfMissing([
          { symbol, baseAsset, quoteAsset, status: 'TRADING', isActive: false },
        ]);
        const first = page[0];
        if (first) repairFrom = await recordGapBeforeWrite(store, symbol, first.openTime);
      }
      if (options.replace) changed += await store.replaceCandles(page);
      else await store.upsertCandles(page);
      pages++;
      candles += page.length;
      firstOpenTime ??= page[0]?.openTime;
      lastOpenTime = page.at(-1)?.openTime ?? lastOpenTime;
      if (lastOpenTime !== undefined) {
        // Stored without a break from `range.from`: fetched from it, or resumed after what was.
        const record: BackfillProgressRecord = { from: range.from, through: lastOpenTime };
        await store.putSetting(backfillProgressKey(symbol), JSON.stringify(record));
      }
      const doneMinutes = lastOpenTime === undefined ? 0 : minutesBetween(range.from, lastOpenTime);
      onProgress?.({ type: 'page', symbol, totalMinutes, doneMinutes, candles });
      if (signal?.aborted) return result('aborted');
    }
    return result('complete');
  } catch (error) {
    // The REST client may share the signal: its waits and requests then end with an AbortError.
    if (signal?.aborted) return result('aborted');
    if (error instanceof BinanceApiError && error.binanceCode === INVALID_SYMBOL_CODE) {
      return result('unknown-symbol', error);
    }
    return result('failed', error);
  }
}

/**
 * Backfills each symbol in turn. A symbol that fails (unknown to the exchange, network down past
 * the REST client's retries, a store error) is reported in its result and the next one goes on;
 * after an abort the remaining symbols are reported `aborted` without a request.
 */
export async function backfill(options: BackfillOptions): Promise<SymbolBackfillResult[]> {
  const { from: rawFrom, to } = options;
  if (!Number.isSafeInteger(rawFrom) || !Number.isSafeInteger(to) || rawFrom < 0 || rawFrom > to) {
    throw new ValidationError(`backfill needs epoch ms with from <= to, got ${rawFrom} and ${to}`);
  }
  const from = bucketOpenTime(rawFrom, MINUTE_MS);
  const range: Range = { from, to, totalMinutes: minutesBetween(from, bucketOpenTime(to, MINUTE_MS)) };
  const results: SymbolBackfillResult[] = [];
  for (const symbol of options.symbols) {
    const result = await backfillSymbol(symbol, range, options);
    results.push(result);
    options.onProgress?.({ type: 'done', result });
  }
  return results;
}
