/**
 * Binance REST response bodies (BINANCE.md section 3), decoded and validated. Pure: parsed JSON in,
 * normalized values out; the HTTP side lives in ./rest-client.ts.
 *
 * Klines are strict (a bad row fails the whole page, so nothing is stored half); exchangeInfo and
 * ticker/24hr are lenient (BINANCE.md 6.6: new statuses and fields appear), skipping a bad entry
 * and counting it rather than losing the whole universe over one symbol.
 */
import type { StoredCandle } from '../domain/candle.js';
import { canonicalDecimal, compareDecimal, isDecimalString, parseDecimal } from '../domain/decimal.js';
import { AppError, ValidationError } from '../domain/errors.js';
import { MINUTE_MS, bucketOpenTime } from '../domain/intervals.js';
import { isSymbolName } from '../domain/symbol.js';

/** A Binance body that does not have the documented shape. `index` names the bad row or entry. */
export class BinanceResponseError extends AppError {
  override readonly name = 'BinanceResponseError';
  readonly code = 'BINANCE_BAD_RESPONSE';
  readonly index: number | undefined;

  constructor(message: string, index?: number) {
    super(message);
    this.index = index;
  }
}

/** REST kline rows have 12 fields; the 12th is "Unused field, ignore" (BINANCE.md 3.2), so 11 suffice. */
const MIN_KLINE_FIELDS = 11;
/** At most this many skipped entries are described; the rest are only counted. */
export const MAX_SKIP_EXAMPLES = 5;

/** Request weights (BINANCE.md 3.2, 3.4, 3.5, 3.8). */
export const KLINES_WEIGHT = 2;
export const EXCHANGE_INFO_WEIGHT = 20;
export const TICKER_24H_ALL_WEIGHT = 80;
export const SERVER_TIME_WEIGHT = 1;
/** Largest `limit` of GET /api/v3/klines (BINANCE.md 3.2). */
export const KLINES_MAX_LIMIT = 1000;
/** Recommended universe query (BINANCE.md 3.4). */
export const RECOMMENDED_EXCHANGE_INFO_QUERY: ExchangeInfoQuery = {
  permissions: 'SPOT',
  symbolStatus: 'TRADING',
  showPermissionSets: false,
};
/** The same listing in every status (TRADING, BREAK, HALT, …): for following symbols' statuses. */
export const ALL_STATUSES_EXCHANGE_INFO_QUERY: ExchangeInfoQuery = {
  permissions: RECOMMENDED_EXCHANGE_INFO_QUERY.permissions,
  showPermissionSets: false,
};

export interface KlinesQuery {
  readonly symbol: string;
  /** Epoch ms; rows opening at or after it. */
  readonly startTime: number;
  /** Epoch ms, inclusive. */
  readonly endTime?: number;
  readonly limit?: number;
}

export interface KlinesRangeQuery {
  readonly symbol: string;
  /** Epoch ms, first open time wanted. */
  readonly from: number;
  /** Epoch ms, last open time wanted (inclusive). */
  readonly to: number;
  /** Rows per page, at most KLINES_MAX_LIMIT. */
  readonly limit?: number;
}

export interface ExchangeInfoQuery {
  readonly permissions?: string;
  readonly symbolStatus?: string;
  readonly showPermissionSets?: boolean;
}

export function checkKlinesQuery(query: KlinesQuery): void {
  const { startTime, endTime, limit } = query;
  const issues: string[] = [];
  if (!Number.isSafeInteger(startTime) || startTime < 0) issues.push('startTime must be epoch ms');
  if (endTime !== undefined && (!Number.isSafeInteger(endTime) || endTime < startTime)) {
    issues.push('endTime must be epoch ms not before startTime');
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > KLINES_MAX_LIMIT)) {
    issues.push(`limit must be an integer in [1, ${KLINES_MAX_LIMIT}]`);
  }
  if (issues.length > 0) throw new ValidationError(`klines: ${issues.join('; ')}`);
}

type Fail = (reason: string) => never;

const show = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 30 ? `${text.slice(0, 30)}…` : text;
};

function epochMs(value: unknown, field: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return fail(`${field} ${show(value)} is not an epoch time`);
  }
  return value;
}

function amount(value: unknown, field: string, fail: Fail): string {
  if (typeof value !== 'string' || !isDecimalString(value)) {
    return fail(`${field} ${show(value)} is not a decimal string`);
  }
  if (value.startsWith('-')) return fail(`${field} ${value} is negative`);
  return canonicalDecimal(value);
}

function count(value: unknown, field: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return fail(`${field} ${show(value)} is not a non-negative integer`);
  }
  return value;
}

function checkPriceRange(p: { open: string; high: string; low: string; close: string }, fail: Fail): void {
  const high = parseDecimal(p.high);
  const low = parseDecimal(p.low);
  if (compareDecimal(high, low) < 0) fail(`high ${p.high} is below low ${p.low}`);
  for (const [name, text] of [
    ['open', p.open],
    ['close', p.close],
  ] as const) {
    const value = parseDecimal(text);
    if (compareDecimal(value, high) > 0) fail(`${name} ${text} is above high ${p.high}`);
    if (compareDecimal(value, low) < 0) fail(`${name} ${text} is below low ${p.low}`);
  }
}

/**
 * How long after its close a REST kline is taken as final, in ms. REST klines come from Binance's
 * Database source, which may lag the stream right after a close (BINANCE.md 6.4), and a closed
 * candle is never replaced (domain/candle.ts): a row younger than this is stored as forming, so the
 * stream's close or a later fetch (market/gap-repair.ts) still settles it.
 */
export const REST_KLINE_SETTLE_MS = 10_000;

/**
 * The open time of the last minute the exchange serves as final at `now`: REST_KLINE_SETTLE_MS after
 * its close. A later minute is stored still forming (a backfill stops here; gap repair fetches such
 * a minute again while a lag may explain it).
 */
export const lastSettledMinute = (now: number): number =>
  bucketOpenTime(now - REST_KLINE_SETTLE_MS, MINUTE_MS) - MINUTE_MS;

export interface KlinePageContext {
  readonly symbol: string;
  /** Interval name written on the candles, and its length: rows must span exactly one interval. */
  readonly interval: string;
  readonly intervalMs: number;
  /** The most rows the request asked for; more is a malformed answer. */
  readonly limit: number;
  /**
   * The server's time (ms): rows closing at or after it are still forming, and so are rows that
   * closed less than REST_KLINE_SETTLE_MS before it (BINANCE.md section 6).
   */
  readonly serverTime: number;
  /** When the page was fetched (ms): REST rows carry no event time (domain/candle.ts StoredCandle). */
  readonly fetchedAt: number;
}

/** One REST kline row (BINANCE.md 3.2 index map) as a candle. Throws BinanceResponseError naming `index`. */
export function decodeKlineRow(row: unknown, index: number, context: KlinePageContext): StoredCandle {
  const fail: Fail = (reason) => {
    throw new BinanceResponseError(`klines row ${index}: ${reason}`, index);
  };
  if (!Array.isArray(row) || row.length < MIN_KLINE_FIELDS) {
    return fail(`expected an array of at least ${MIN_KLINE_FIELDS} fields, got ${show(row)}`);
  }
  const f: readonly unknown[] = row;
  const openTime = epochMs(f[0], 'open time', fail);
  const closeTime = epochMs(f[6], 'close time', fail);
  // Every interval opens on a minute, but not on a multiple of its own length: 1w klines open on
  // Mondays (BINANCE.md 3.2), the epoch was a Thursday. With the exact span below, this pins 1m.
  if (openTime % MINUTE_MS !== 0) fail(`open time ${openTime} is not on a minute`);
  if (closeTime !== openTime + context.intervalMs - 1) {
    fail(`close time ${closeTime} is not open time + ${context.interval} - 1 ms`);
  }
  const prices = {
    open: amount(f[1], 'open', fail),
    high: amount(f[2], 'high', fail),
    low: amount(f[3], 'low', fail),
    close: amount(f[4], 'close', fail),
  };
  checkPriceRange(prices, fail);
  return {
    symbol: context.symbol,
    interval: context.interval,
    openTime,
    closeTime,
    ...prices,
    volume: amount(f[5], 'volume', fail),
    quoteVolume: amount(f[7], 'quote volume', fail),
    trades: count(f[8], 'trades', fail),
    takerBuyVolume: amount(f[9], 'taker buy volume', fail),
    takerBuyQuoteVolume: amount(f[10], 'taker buy quote volume', fail),
    closed: closeTime + REST_KLINE_SETTLE_MS < context.serverTime,
    eventTime: context.fetchedAt,
  };
}

/** A whole klines response: every row valid and open times strictly ascending, or nothing. */
export function decodeKlinePage(body: unknown, context: KlinePageContext): StoredCandle[] {
  if (!Array.isArray(body)) throw new BinanceResponseError(`klines: expected an array, got ${show(body)}`);
  const rows: readonly unknown[] = body;
  if (rows.length > context.limit) {
    throw new BinanceResponseError(`klines: ${rows.length} rows for a limit of ${context.limit}`);
  }
  const candles: StoredCandle[] = [];
  rows.forEach((row, index) => {
    const candle = decodeKlineRow(row, index, context);
    const previous = candles[index - 1];
    if (previous && candle.openTime <= previous.openTime) {
      throw new BinanceResponseError(
        `klines row ${index}: open time ${candle.openTime} does not follow ${previous.openTime}`,
        index,
      );
    }
    candles.push(candle);
  });
  return candles;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Entries decoded leniently, with what was skipped and why. */
export interface Lenient<T> {
  readonly items: T[];
  readonly skipped: number;
  readonly skipExamples: string[];
}

function decodeEach<T>(
  what: string,
  entries: unknown,
  decode: (entry: Record<string, unknown>, fail: Fail) => T,
): Lenient<T> {
  if (!Array.isArray(entries))
    throw new BinanceResponseError(`${what}: expected an array, got ${show(entries)}`);
  const items: T[] = [];
  const skipExamples: string[] = [];
  let skipped = 0;
  (entries as readonly unknown[]).forEach((entry, index) => {
    try {
      const fail: Fail = (reason) => {
        throw new BinanceResponseError(`${what} entry ${index}: ${reason}`, index);
      };
      if (!isRecord(entry)) return fail(`expected an object, got ${show(entry)}`);
      items.push(decode(entry, fail));
    } catch (error) {
      if (!(error instanceof BinanceResponseError)) throw error;
      if (++skipped <= MAX_SKIP_EXAMPLES) skipExamples.push(error.message);
    }
  });
  return { items, skipped, skipExamples };
}

function symbolName(value: unknown, fail: Fail): string {
  if (typeof value !== 'string' || !isSymbolName(value)) return fail(`symbol ${show(value)} is not a symbol`);
  return value;
}

function text(value: unknown, field: string, fail: Fail): string {
  if (typeof value !== 'string' || value === '') return fail(`${field} ${show(value)} is not a string`);
  return value;
}

export interface ExchangeSymbol {
  readonly symbol: string;
  /** Kept as text: statuses get added (CANCEL_ONLY, BINANCE.md 3.4 and 6.6). */
  readonly status: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly isSpotTradingAllowed: boolean;
}

export interface ExchangeInfo extends Lenient<ExchangeSymbol> {
  /** `serverTime` of the body (ms), when present. */
  readonly serverTime: number | undefined;
}

export function decodeExchangeInfo(body: unknown): ExchangeInfo {
  if (!isRecord(body)) throw new BinanceResponseError(`exchangeInfo: expected an object, got ${show(body)}`);
  const symbols = decodeEach('exchangeInfo symbols', body.symbols, (entry, fail) => ({
    symbol: symbolName(entry.symbol, fail),
    status: text(entry.status, 'status', fail),
    baseAsset: text(entry.baseAsset, 'baseAsset', fail),
    quoteAsset: text(entry.quoteAsset, 'quoteAsset', fail),
    // Absent says nothing against spot trading: the recommended query already asks for SPOT only.
    isSpotTradingAllowed: entry.isSpotTradingAllowed !== false,
  }));
  const serverTime = typeof body.serverTime === 'number' ? body.serverTime : undefined;
  return { ...symbols, serverTime };
}

/** One symbol's rolling 24 h statistics from GET /api/v3/ticker/24hr (BINANCE.md 3.5). */
export interface Ticker24h {
  readonly symbol: string;
  /** Canonical decimal text. */
  readonly lastPrice: string;
  readonly openPrice: string;
  readonly highPrice: string;
  readonly lowPrice: string;
  /** Base asset volume. */
  readonly volume: string;
  readonly quoteVolume: string;
  /** Trades in the window. */
  readonly count: number;
  /** End of the rolling window (ms). */
  readonly closeTime: number;
}

export function decodeTickers24h(body: unknown): Lenient<Ticker24h> {
  return decodeEach('ticker/24hr', body, (entry, fail) => ({
    symbol: symbolName(entry.symbol, fail),
    lastPrice: amount(entry.lastPrice, 'lastPrice', fail),
    openPrice: amount(entry.openPrice, 'openPrice', fail),
    highPrice: amount(entry.highPrice, 'highPrice', fail),
    lowPrice: amount(entry.lowPrice, 'lowPrice', fail),
    volume: amount(entry.volume, 'volume', fail),
    quoteVolume: amount(entry.quoteVolume, 'quoteVolume', fail),
    count: count(entry.count, 'count', fail),
    closeTime: epochMs(entry.closeTime, 'closeTime', fail),
  }));
}

export function decodeServerTime(body: unknown): number {
  const fail: Fail = (reason) => {
    throw new BinanceResponseError(`time: ${reason}`);
  };
  if (!isRecord(body)) return fail(`expected an object, got ${show(body)}`);
  return epochMs(body.serverTime, 'serverTime', fail);
}

/** A Binance answer that is not a success. `status` is 0 when no response came (timeout, network). */
export class BinanceApiError extends AppError {
  override readonly name = 'BinanceApiError';
  readonly code = 'BINANCE_API_ERROR';
  readonly status: number;
  /** Binance's own error code (-1121 Invalid symbol, …), when the body carried one. */
  readonly binanceCode: number | undefined;

  constructor(status: number, binanceCode: number | undefined, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.binanceCode = binanceCode;
  }
}

/**
 * The error for a non-2xx answer. The body is `{"code": -1121, "msg": "Invalid symbol."}`
 * (BINANCE.md 3.8), but a WAF block (403) or a proxy's 5xx page has neither.
 */
export function apiError(path: string, status: number, bodyText: string, what: string): BinanceApiError {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    body = undefined;
  }
  const code = isRecord(body) && typeof body.code === 'number' ? body.code : undefined;
  const msg = isRecord(body) && typeof body.msg === 'string' ? `: ${body.msg.slice(0, 200)}` : '';
  const codeText = code === undefined ? '' : ` ${code}`;
  return new BinanceApiError(status, code, `${path}: ${what} (HTTP ${status}${codeText}${msg})`);
}

/** Retry-After is whole seconds for 429 and 418 (BINANCE.md 3.8). */
export function parseRetryAfterMs(header: string | null, fallbackMs: number): number {
  const seconds = header === null ? Number.NaN : Number(header.trim());
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : fallbackMs;
}

/** Full exchangeInfo is a few MB; anything near this is not a Binance answer. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** The body as text, refusing to buffer more than MAX_RESPONSE_BYTES. */
export async function readBody(response: Response, path: string): Promise<string> {
  if (!response.body) return '';
  // @types/node types fetch bodies as ReadableStream<any>; undici yields Uint8Array chunks.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      throw new BinanceResponseError(`${path}: response larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BinanceResponseError(`${path}: body is not JSON: ${JSON.stringify(text.slice(0, 60))}`);
  }
}
