/**
 * One combined-stream frame in, at most one validated market event out (binance/events.ts).
 *
 * Pure and on the hot path: every frame of the live connection passes here, so it is one
 * JSON.parse plus hand-written checks, no schema library. Nothing from the exchange is trusted:
 * anything malformed, unexpected or hostile becomes `{ ok: false, reason }` and is never thrown.
 * The output is built field by field from checked values, so no parsed object (and no
 * `__proto__` key inside one) ever leaves this module or is merged into another.
 */
import { canonicalDecimal, isDecimalString } from '../domain/decimal.js';
import { MINUTE_MS } from '../domain/intervals.js';
import { isSymbolName } from '../domain/symbol.js';
import type { DecodeResult, MarketEvent, MiniTicker } from './events.js';
import type {
  WireCombinedFrame,
  WireControlError,
  WireControlReply,
  WireKline,
  WireKlineEvent,
  WireMiniTicker,
  WireServerShutdown,
} from './wire.js';

/**
 * Largest frame decoded. A `!miniTicker@arr` frame for ~2000 symbols is ~300 KB, a kline frame
 * ~400 bytes. Measured on `text.length` (UTF-16 code units, never more than the UTF-8 bytes) so the
 * check runs before any parsing; the socket's own byte limit is the transport's business.
 */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024;
/** The only kline stream subscribed: `<lower-case symbol>@kline_1m` (BINANCE.md section 1.2). */
export const KLINE_STREAM_SUFFIX = '@kline_1m';
export const MINI_TICKER_ARRAY_STREAM = '!miniTicker@arr';
/** The combined form of the shutdown notice (BINANCE.md section 1.6). */
export const SERVER_SHUTDOWN_STREAM = '!serverShutdown';
const KLINE_INTERVAL = '1m';
/** Exchange text quoted in a reason is cut here, so a hostile frame cannot flood the logs. */
const MAX_REASON_EXCERPT_CHARS = 64;
/** Control error messages are a line of text (BINANCE.md section 2.3); longer ones are cut. */
const MAX_CONTROL_MESSAGE_CHARS = 512;
/** String request ids: alphanumeric, at most 36 characters (BINANCE.md section 2.3). */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9]{0,36}$/;
const MINUS_SIGN = 0x2d;

/** A decoded frame plus how many `!miniTicker@arr` elements were malformed and left out. */
export interface DetailedDecodeResult {
  readonly result: DecodeResult;
  readonly dropped: number;
  /** Why the first dropped element was dropped, for the caller's log line. */
  readonly firstDropReason?: string;
}

/** Reading a key of an unchecked object gives `unknown`, and only keys the wire type documents compile. */
type Unchecked<T> = { readonly [K in keyof T]?: unknown };
type JsonObject = Record<string, unknown>;

export function decodeFrame(text: string): DecodeResult {
  return decodeFrameDetailed(text).result;
}

export interface DecodeOptions {
  /**
   * Which `!miniTicker@arr` elements to decode: the array carries every symbol of the exchange that
   * changed (~2000), so skipping untracked ones before validating them saves most of the work.
   */
  readonly wantsTicker?: (symbol: string) => boolean;
}

export function decodeFrameDetailed(text: string, options: DecodeOptions = {}): DetailedDecodeResult {
  if (typeof text !== 'string') return rejected('frame is not text');
  if (text.length > MAX_FRAME_BYTES) return rejected(`frame is larger than ${MAX_FRAME_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return rejected('invalid JSON');
  }
  try {
    return decodeDocument(value, options);
  } catch {
    // Every check above is meant to make this unreachable; a frame must never crash the connection.
    return rejected('frame could not be decoded');
  }
}

function decodeDocument(value: unknown, options: DecodeOptions): DetailedDecodeResult {
  if (!isObject(value)) return rejected(`frame is ${describe(value)}, not an object`);
  if (value.stream !== undefined) return decodeCombined(value, options);
  // The one event documented without the envelope on a /stream connection (BINANCE.md section 1.6).
  if (value.e === 'serverShutdown') return single(decodeShutdown(value));
  if (Object.hasOwn(value, 'result')) return single(decodeReply(value));
  if (Object.hasOwn(value, 'code')) return single(decodeControlError(value));
  // The live server wraps control errors as {"error":{"code","msg"},"id"}, unlike the docs' table
  // (community reports; the simulator's wrapControlErrors option speaks that form).
  if (isObject(value.error)) return single(decodeControlError({ ...value.error, id: value.id }));
  if (value.e !== undefined) return rejected('market event outside the combined envelope');
  return rejected('unknown envelope');
}

function decodeCombined(frame: Unchecked<WireCombinedFrame>, options: DecodeOptions): DetailedDecodeResult {
  const { stream, data } = frame;
  if (typeof stream !== 'string') return rejected('stream is not a string');
  if (stream.endsWith(KLINE_STREAM_SUFFIX)) return single(decodeKline(stream, data));
  if (stream === MINI_TICKER_ARRAY_STREAM) return decodeMiniTickers(stream, data, options.wantsTicker);
  if (stream === SERVER_SHUTDOWN_STREAM) return single(decodeShutdown(data));
  return rejected(`unexpected stream ${excerpt(stream)}`);
}

function decodeKline(stream: string, data: unknown): DecodeResult {
  if (!isObject(data)) return failure('kline data is not an object');
  const event: Unchecked<WireKlineEvent> = data;
  if (event.e !== 'kline') return failure(`stream ${excerpt(stream)} carries event ${describe(event.e)}`);
  const symbol = event.s;
  if (typeof symbol !== 'string' || !isSymbolName(symbol)) {
    return failure(`s ${describe(symbol)} is not a symbol`);
  }
  // Stream names carry the symbol in lower case, payloads in upper case (BINANCE.md section 1.2).
  if (stream !== symbol.toLowerCase() + KLINE_STREAM_SUFFIX) {
    return failure(`stream ${excerpt(stream)} carries symbol ${symbol}`);
  }
  if (!isNonNegativeInteger(event.E)) return failure('E is not a time in epoch ms');
  if (!isObject(event.k)) return failure('k is not an object');
  const k: Unchecked<WireKline> = event.k;
  if (k.s !== symbol) return failure('k.s does not match s');
  // Case matters: `1M` is a month (BINANCE.md section 1.4).
  if (k.i !== KLINE_INTERVAL) return failure(`interval ${describe(k.i)} is not 1m`);
  const { t: openTime, T: closeTime } = k;
  if (!isNonNegativeInteger(openTime)) return failure('k.t is not a time in epoch ms');
  if (openTime % MINUTE_MS !== 0) return failure('k.t is not on a minute boundary');
  // A candle ends 1 ms before the next one opens (BINANCE.md section 1.5).
  if (closeTime !== openTime + MINUTE_MS - 1) return failure('k.T is not k.t + 59999');
  if (!isNonNegativeInteger(k.n)) return failure('k.n is not a trade count');
  if (typeof k.x !== 'boolean') return failure('k.x is not a boolean');
  // f, L and B are not read: B is documented as "Ignore", and trade ids do not make a candle.
  const open = decimal(k.o);
  if (open === undefined) return badDecimal('k.o', k.o);
  const high = decimal(k.h);
  if (high === undefined) return badDecimal('k.h', k.h);
  const low = decimal(k.l);
  if (low === undefined) return badDecimal('k.l', k.l);
  const close = decimal(k.c);
  if (close === undefined) return badDecimal('k.c', k.c);
  const volume = decimal(k.v);
  if (volume === undefined) return badDecimal('k.v', k.v);
  const quoteVolume = decimal(k.q);
  if (quoteVolume === undefined) return badDecimal('k.q', k.q);
  const takerBuyVolume = decimal(k.V);
  if (takerBuyVolume === undefined) return badDecimal('k.V', k.V);
  const takerBuyQuoteVolume = decimal(k.Q);
  if (takerBuyQuoteVolume === undefined) return badDecimal('k.Q', k.Q);
  return success({
    type: 'kline',
    stream,
    candle: {
      symbol,
      interval: KLINE_INTERVAL,
      openTime,
      closeTime,
      open,
      high,
      low,
      close,
      volume,
      quoteVolume,
      trades: k.n,
      takerBuyVolume,
      takerBuyQuoteVolume,
      closed: k.x,
      eventTime: event.E,
    },
  });
}

/**
 * Only the symbols that changed arrive (BINANCE.md section 6.7), and one bad element must not cost
 * the others their update: malformed elements are dropped and counted.
 */
function decodeMiniTickers(
  stream: string,
  data: unknown,
  wantsTicker: ((symbol: string) => boolean) | undefined,
): DetailedDecodeResult {
  if (!Array.isArray(data)) return rejected(`${MINI_TICKER_ARRAY_STREAM} data is not an array`);
  const elements: readonly unknown[] = data;
  const tickers: MiniTicker[] = [];
  let dropped = 0;
  let firstDropReason: string | undefined;
  for (const element of elements) {
    if (wantsTicker && isObject(element) && typeof element.s === 'string' && !wantsTicker(element.s))
      continue;
    const ticker = decodeMiniTicker(element);
    if (typeof ticker === 'string') {
      dropped++;
      firstDropReason ??= ticker;
    } else {
      tickers.push(ticker);
    }
  }
  const result =
    dropped > 0 && tickers.length === 0
      ? failure(`all ${dropped} miniTickers are malformed; first: ${firstDropReason}`)
      : success({ type: 'miniTickers', stream, tickers });
  return { result, dropped, firstDropReason };
}

/** The ticker, or why it was dropped. */
function decodeMiniTicker(element: unknown): MiniTicker | string {
  if (!isObject(element)) return 'miniTicker is not an object';
  const ticker: Unchecked<WireMiniTicker> = element;
  // Only the mini ticker: the 24hrTicker's fields mean other things (its `x` is a price).
  if (ticker.e !== '24hrMiniTicker') return `event ${describe(ticker.e)} is not 24hrMiniTicker`;
  const symbol = ticker.s;
  // Non-ASCII symbols are real and may arrive unasked (BINANCE.md section 1.2); isSymbolName admits them.
  if (typeof symbol !== 'string' || !isSymbolName(symbol)) return `s ${describe(symbol)} is not a symbol`;
  if (!isNonNegativeInteger(ticker.E)) return `${symbol}: E is not a time in epoch ms`;
  const close = exactDecimal(ticker.c);
  const open = exactDecimal(ticker.o);
  const high = exactDecimal(ticker.h);
  const low = exactDecimal(ticker.l);
  const volume = exactDecimal(ticker.v);
  const quoteVolume = exactDecimal(ticker.q);
  // Canonical decimal text is never empty, so each is truthy exactly when it was valid.
  if (close && open && high && low && volume && quoteVolume) {
    return { symbol, eventTime: ticker.E, close, open, high, low, volume, quoteVolume };
  }
  return `${symbol}: a price or volume is not a non-negative decimal string`;
}

function decodeShutdown(data: unknown): DecodeResult {
  if (!isObject(data)) return failure('serverShutdown data is not an object');
  const event: Unchecked<WireServerShutdown> = data;
  if (event.e !== 'serverShutdown') {
    return failure(`${SERVER_SHUTDOWN_STREAM} carries event ${describe(event.e)}`);
  }
  if (!isNonNegativeInteger(event.E)) return failure('E is not a time in epoch ms');
  return success({ type: 'serverShutdown', eventTime: event.E });
}

function decodeReply(frame: JsonObject): DecodeResult {
  const reply: Unchecked<WireControlReply> = frame;
  if (!isRequestId(reply.id)) return failure('reply id is not an integer, short alphanumeric string or null');
  return success({ type: 'reply', id: reply.id, result: reply.result });
}

function decodeControlError(frame: JsonObject): DecodeResult {
  const error: Unchecked<WireControlError> = frame;
  if (typeof error.code !== 'number' || !Number.isSafeInteger(error.code)) {
    return failure('control error code is not an integer');
  }
  if (typeof error.msg !== 'string') return failure('control error msg is not a string');
  // Errors about a request without a usable id come without one (BINANCE.md section 2.3).
  const id = error.id === undefined ? null : error.id;
  if (!isRequestId(id)) {
    return failure('control error id is not an integer, short alphanumeric string or null');
  }
  return success({
    type: 'controlError',
    id,
    code: error.code,
    message: error.msg.slice(0, MAX_CONTROL_MESSAGE_CHARS),
  });
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Times (epoch ms) and counts: exact JSON integers, never past 2^53 (BINANCE.md section 6.5). */
function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Ids beyond 2^53 cannot be matched to a request after JSON.parse, so they are refused. */
function isRequestId(value: unknown): value is number | string | null {
  if (value === null) return true;
  if (typeof value === 'number') return Number.isSafeInteger(value);
  return typeof value === 'string' && REQUEST_ID_PATTERN.test(value);
}

/**
 * Canonical text of a non-negative plain decimal string, else undefined. Prices and volumes are
 * never negative, and exponents, NaN or numbers instead of strings mean the frame is not Binance's.
 */
function decimal(value: unknown): string | undefined {
  const text = exactDecimal(value);
  return text === undefined ? undefined : canonicalDecimal(text);
}

/** A valid non-negative decimal string as Binance wrote it (no canonical form: a hot path). */
function exactDecimal(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.charCodeAt(0) === MINUS_SIGN || !isDecimalString(value)) {
    return undefined;
  }
  return value;
}

function badDecimal(field: string, value: unknown): DecodeResult {
  if (typeof value === 'string' && isDecimalString(value)) return failure(`${field} is negative`);
  return failure(`${field} ${describe(value)} is not a plain decimal string`);
}

function excerpt(text: string): string {
  return text.length > MAX_REASON_EXCERPT_CHARS ? `${text.slice(0, MAX_REASON_EXCERPT_CHARS)}…` : text;
}

/** A short, safe description of an unchecked value for a reason. */
function describe(value: unknown): string {
  if (typeof value === 'string') return `"${excerpt(value)}"`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

function success(event: MarketEvent): DecodeResult {
  return { ok: true, event };
}

function failure(reason: string): DecodeResult {
  return { ok: false, reason };
}

function single(result: DecodeResult): DetailedDecodeResult {
  return { result, dropped: 0 };
}

function rejected(reason: string): DetailedDecodeResult {
  return { result: failure(reason), dropped: 0 };
}
