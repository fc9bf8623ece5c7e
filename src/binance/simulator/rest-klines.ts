/**
 * `GET /api/v3/klines` (and `uiKlines`) as BINANCE.md 3.1 and 3.2 describe it: rows keyed by open
 * time in chronological order; no startTime/endTime → the most recent `limit`; startTime → the
 * oldest from it; endTime → the most recent up to it; both → from startTime, not past endTime.
 * The forming kline is included, with its close time in the future, as Binance does.
 */
import {
  createFixedGrid,
  intervalMs,
  isStandardInterval,
  parseTimeZoneOffset,
} from '../../domain/intervals.js';
import type { SimulatedMarket } from './market.js';
import { apiErrors, checkSymbolName, type Params } from './rest-params.js';
import { toKlineRow, type KlineRow } from './wire.js';

/** BINANCE.md 3.2: "Default: 500; Maximum: 1000." A larger limit is served as 1000. */
export const KLINES_DEFAULT_LIMIT = 500;
export const KLINES_MAX_LIMIT = 1000;
/** Valid Binance intervals the simulator does not build (BINANCE.md 1.4); they answer -1120. */
const UNSERVED_INTERVALS: ReadonlySet<string> = new Set(['1s', '3d', '1w', '1M']);
/** Guards a scan through a long run of missing buckets (halts), so one request stays cheap. */
const MAX_SCANNED_BUCKETS = 500_000;

/** `lagMs`: the Database source's lag (BINANCE.md 6.4): rows show the trades up to `now - lagMs`. */
export function klinesBody(market: SimulatedMarket, params: Params, now: number, lagMs = 0): KlineRow[] {
  const symbol = checkSymbolName(params.required('symbol'));
  const interval = params.required('interval');
  const startTime = params.optionalTime('startTime');
  const endTime = params.optionalTime('endTime');
  const requestedLimit = params.optionalInt('limit');
  const timeZone = params.optional('timeZone');
  params.finish();

  const profile = market.profile(symbol);
  if (!profile) throw apiErrors.badSymbol();
  if (!isStandardInterval(interval) || UNSERVED_INTERVALS.has(interval)) throw apiErrors.badInterval();
  let offsetMs = 0;
  if (timeZone !== undefined) {
    try {
      offsetMs = parseTimeZoneOffset(timeZone);
    } catch {
      throw apiErrors.invalidValue('timeZone');
    }
  }
  if (requestedLimit !== undefined && requestedLimit < 1) throw apiErrors.invalidValue('limit');
  const limit = Math.min(requestedLimit ?? KLINES_DEFAULT_LIMIT, KLINES_MAX_LIMIT);
  if (startTime !== undefined && endTime !== undefined && startTime > endTime)
    throw apiErrors.startAfterEnd();
  if (profile.status !== 'TRADING') return [];

  const lengthMs = intervalMs(interval);
  const grid = createFixedGrid(lengthMs, offsetMs);
  const latest = grid.bucketAt(now).openTime;
  const earliest = grid.bucketAt(market.listedAt).openTime;
  let lower = earliest;
  if (startTime !== undefined) {
    const first = grid.bucketAt(startTime).openTime;
    lower = Math.max(earliest, first < startTime ? first + lengthMs : first);
  }
  const upper = Math.min(latest, endTime === undefined ? latest : grid.bucketAt(endTime).openTime);

  const rows: KlineRow[] = [];
  const ascending = startTime !== undefined;
  let openTime = ascending ? lower : upper;
  for (
    let scanned = 0;
    rows.length < limit && openTime >= lower && openTime <= upper && scanned < MAX_SCANNED_BUCKETS;
    scanned++
  ) {
    const kline = market.spanKline(symbol, openTime, lengthMs, now - lagMs);
    if (kline) rows.push(toKlineRow(kline));
    openTime += ascending ? lengthMs : -lengthMs;
  }
  return ascending ? rows : rows.reverse();
}
