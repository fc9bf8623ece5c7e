/**
 * data.binance.vision spot kline files (BINANCE.md section 5): file names and rows, decoded and
 * validated into stored 1m candles. No I/O here: lines come in, candles go out; opening `.csv` and
 * `.zip` files is cli/import-files.ts's job.
 */
import { basename } from 'node:path';
import type { StoredCandle } from '../domain/candle.js';
import { canonicalDecimal, compareDecimal, isDecimalString, parseDecimal } from '../domain/decimal.js';
import { ValidationError } from '../domain/errors.js';
import { MINUTE_MS } from '../domain/intervals.js';
import { isSymbolName } from '../domain/symbol.js';

/** Intervals with daily files; 3d, 1w and 1mo come only monthly (BINANCE.md section 5). */
const DAILY_INTERVALS = ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d'];
/** Every interval data.binance.vision publishes klines for. */
export const ARCHIVE_INTERVALS: readonly string[] = [...DAILY_INTERVALS, '3d', '1w', '1mo'];
/** The store's base series is 1m; every longer interval is derived from it, so only 1m is imported. */
export const IMPORTABLE_INTERVAL = '1m';

const MINUTES_PER_DAY = 1440;
/** A monthly file is the largest: 31 days of 1m rows. Bounds the memory one file may take. */
export const MAX_ROWS_PER_FILE = 31 * MINUTES_PER_DAY;
/** Longest accepted row; a real one is about 150 bytes with ms times and 160 with µs. */
export const MAX_LINE_BYTES = 512;
/** Largest accepted CSV (uncompressed), so one absurd line or a zip bomb cannot exhaust memory. */
export const MAX_CSV_BYTES = MAX_ROWS_PER_FILE * MAX_LINE_BYTES;
/** Timestamps at or above this are epoch µs: spot files use them from 2025-01-01 (BINANCE.md section 5). */
export const MIN_MICROSECOND_TIMESTAMP = 1e15;
/** Epoch ms from here (year 2286) up to the µs range are neither unit: a corrupt value. */
const MAX_MILLISECOND_TIMESTAMP = 1e13;
const MICROSECONDS_PER_MS = 1000;
/**
 * Every spot row has all 12, the unused `ignore` last. An 11-column row is refused too: it is what a
 * download cut off inside `taker_buy_quote` leaves, a shortened amount that would parse.
 */
const COLUMN_COUNT = 12;
/** Futures files start with a header such as `open_time,open,…`; spot files have none. Line 1 only. */
const HEADER_FIELD_PATTERN = /^\s*"?[A-Za-z][A-Za-z _]*"?\s*$/;
const UNSIGNED_INTEGER_PATTERN = /^\d{1,17}$/;
const FILE_NAME_PATTERN =
  /^(?<symbol>[^-]+)-(?<interval>\d+[a-z]+)-(?<year>\d{4})-(?<month>\d{2})(?:-(?<day>\d{2}))?\.(?<format>csv|zip)$/;
const EXPECTED_NAMES = 'SYMBOL-1m-YYYY-MM-DD.csv or .zip (daily) or SYMBOL-1m-YYYY-MM.csv or .zip (monthly)';

/** A problem with a whole file (its name, its container, its size); the message starts with the file. */
export class ImportFileError extends ValidationError {
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string, options?: ErrorOptions, prefix = file) {
    super(`${prefix}: ${reason}`, [{ path: prefix, message: reason }], options);
    this.file = file;
    this.reason = reason;
  }
}

/** A bad row; the message reads `FILE:LINE: reason` so editors and terminals can jump to it. */
export class ImportRowError extends ImportFileError {
  /** 1-based. */
  readonly line: number;

  constructor(file: string, line: number, reason: string) {
    super(file, reason, undefined, `${file}:${line}`);
    this.line = line;
  }
}

export interface ArchiveFileName {
  readonly symbol: string;
  readonly interval: typeof IMPORTABLE_INTERVAL;
  /** `2024-09-21` for a daily file, `2024-09` for a monthly one. */
  readonly period: string;
  /** The period as epoch ms, [start, end). Every row must open inside it. */
  readonly periodStart: number;
  readonly periodEnd: number;
  readonly format: 'csv' | 'zip';
}

/** Symbol, interval and period from a name like `BTCUSDT-1m-2024-09-21.csv` or `BTCUSDT-1m-2024-09.zip`. */
export function parseArchiveFileName(path: string): ArchiveFileName {
  const name = basename(path);
  const groups = FILE_NAME_PATTERN.exec(name)?.groups;
  const symbol = groups?.symbol ?? '';
  const interval = groups?.interval ?? '';
  if (!groups || !isSymbolName(symbol) || !ARCHIVE_INTERVALS.includes(interval)) {
    throw new ImportFileError(path, `not a data.binance.vision kline file name; expected ${EXPECTED_NAMES}`);
  }
  if (interval !== IMPORTABLE_INTERVAL) {
    throw new ImportFileError(
      path,
      `only 1m files can be imported, this one is ${interval}: the store keeps 1m candles and derives every longer interval from them`,
    );
  }
  const year = Number(groups.year);
  const month = Number(groups.month);
  const day = groups.day === undefined ? undefined : Number(groups.day);
  const periodStart = Date.UTC(year, month - 1, day ?? 1);
  const periodEnd = day === undefined ? Date.UTC(year, month, 1) : periodStart + MINUTES_PER_DAY * MINUTE_MS;
  const start = new Date(periodStart);
  if (start.getUTCMonth() !== month - 1 || (day !== undefined && start.getUTCDate() !== day)) {
    throw new ImportFileError(path, `${name.slice(symbol.length + interval.length + 2, -4)} is not a date`);
  }
  return {
    symbol,
    interval: IMPORTABLE_INTERVAL,
    period:
      day === undefined ? `${groups.year}-${groups.month}` : `${groups.year}-${groups.month}-${groups.day}`,
    periodStart,
    periodEnd,
    format: groups.format === 'zip' ? 'zip' : 'csv',
  };
}

/** Where a row comes from: the file (for messages) and the symbol (rows do not carry it). */
export interface RowSource {
  readonly file: string;
  readonly symbol: string;
}

type Fail = (reason: string) => never;

const isoMinute = (time: number): string => `${new Date(time).toISOString().slice(0, 16)}Z`;
const quote = (raw: string): string => JSON.stringify(raw.length > 24 ? `${raw.slice(0, 24)}…` : raw);

interface RawTimestamp {
  readonly value: number;
  readonly micro: boolean;
}

function parseTimestamp(raw: string, column: string, fail: Fail): RawTimestamp {
  const value = UNSIGNED_INTEGER_PATTERN.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value)) return fail(`${column} ${quote(raw)} is not an epoch time`);
  if (value >= MIN_MICROSECOND_TIMESTAMP) return { value, micro: true };
  if (value >= MAX_MILLISECOND_TIMESTAMP) return fail(`${column} ${raw} is neither epoch ms nor epoch µs`);
  return { value, micro: false };
}

function parseAmount(raw: string, column: string, fail: Fail): string {
  if (!isDecimalString(raw)) return fail(`${column} ${quote(raw)} is not a decimal number`);
  if (raw.startsWith('-')) return fail(`${column} ${raw} is negative`);
  return canonicalDecimal(raw);
}

/** Open and close times in ms, checked against each other in the unit the file uses. */
function parseTimes(openRaw: string, closeRaw: string, fail: Fail): { openTime: number; closeTime: number } {
  const open = parseTimestamp(openRaw, 'open_time', fail);
  const close = parseTimestamp(closeRaw, 'close_time', fail);
  if (open.micro !== close.micro) {
    fail(`open_time ${openRaw} and close_time ${closeRaw} are in different units`);
  }
  const perMs = open.micro ? MICROSECONDS_PER_MS : 1;
  if (open.value % perMs !== 0) fail(`open_time ${openRaw} µs is not a whole millisecond`);
  const openTime = open.value / perMs;
  if (openTime % MINUTE_MS !== 0) fail(`open_time ${openRaw} (${isoMinute(openTime)}) is not on a minute`);
  // A µs close time is the last µs of the minute (…59999999), not a whole ms, so it is checked in
  // its own unit; it then maps to the last ms, as Binance writes ms close times.
  const expectedClose = open.value + MINUTE_MS * perMs - 1;
  if (close.value !== expectedClose) {
    fail(`close_time ${closeRaw} is not open_time + 1 minute - 1 (${expectedClose})`);
  }
  return { openTime, closeTime: openTime + MINUTE_MS - 1 };
}

function checkPriceRange(
  prices: { open: string; high: string; low: string; close: string },
  fail: Fail,
): void {
  const high = parseDecimal(prices.high);
  const low = parseDecimal(prices.low);
  const others: [string, string][] = [
    ['open', prices.open],
    ['close', prices.close],
    ['low', prices.low],
  ];
  for (const [name, text] of others) {
    if (compareDecimal(high, parseDecimal(text)) < 0) fail(`high ${prices.high} is below ${name} ${text}`);
  }
  for (const [name, text] of others.slice(0, 2)) {
    if (compareDecimal(low, parseDecimal(text)) > 0) fail(`low ${prices.low} is above ${name} ${text}`);
  }
}

/**
 * One CSV row (`open_time, open, high, low, close, volume, close_time, quote_volume, trades,
 * taker_buy_base, taker_buy_quote, ignore`) as a closed 1m candle. Throws ImportRowError.
 */
export function parseKlineRow(line: string, lineNumber: number, source: RowSource): StoredCandle {
  const fail: Fail = (reason) => {
    throw new ImportRowError(source.file, lineNumber, reason);
  };
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.length > MAX_LINE_BYTES) {
    fail(`row is ${text.length} characters long, at most ${MAX_LINE_BYTES} expected`);
  }
  if (text.trim() === '') fail('empty line');
  const fields = text.split(',');
  if (lineNumber === 1 && HEADER_FIELD_PATTERN.test(fields[0] ?? '')) {
    fail(`header row ${quote(text)}: spot kline files have none (futures files do; is this one?)`);
  }
  if (fields.length !== COLUMN_COUNT) {
    fail(`expected ${COLUMN_COUNT} comma-separated columns, got ${fields.length}`);
  }
  const [
    openRaw,
    openText,
    highText,
    lowText,
    closeText,
    volume,
    closeRaw,
    quoteVolume,
    trades,
    takerBase,
    takerQuote,
  ] = fields as [string, string, string, string, string, string, string, string, string, string, string];
  const { openTime, closeTime } = parseTimes(openRaw, closeRaw, fail);
  const prices = {
    open: parseAmount(openText, 'open', fail),
    high: parseAmount(highText, 'high', fail),
    low: parseAmount(lowText, 'low', fail),
    close: parseAmount(closeText, 'close', fail),
  };
  checkPriceRange(prices, fail);
  const tradeCount = UNSIGNED_INTEGER_PATTERN.test(trades) ? Number(trades) : Number.NaN;
  if (!Number.isSafeInteger(tradeCount)) fail(`trades ${quote(trades)} is not a non-negative integer`);
  return {
    symbol: source.symbol,
    interval: IMPORTABLE_INTERVAL,
    openTime,
    closeTime,
    ...prices,
    volume: parseAmount(volume, 'volume', fail),
    quoteVolume: parseAmount(quoteVolume, 'quote_volume', fail),
    trades: tradeCount,
    takerBuyVolume: parseAmount(takerBase, 'taker_buy_base', fail),
    takerBuyQuoteVolume: parseAmount(takerQuote, 'taker_buy_quote', fail),
    closed: true,
    // Archive rows are final candles with no exchange event time. closeTime + 1 is the earliest
    // moment the closing update could have been sent, and unlike the read time it is deterministic,
    // so importing the same file again writes identical rows. A closed candle is never replaced
    // (domain/candle.ts shouldReplace), so it cannot hide a live update either.
    eventTime: closeTime + 1,
  };
}

/** Rows parsed so far, for progress reports. */
export type RowsParsed = (rows: number) => void;

/**
 * Every row of one file, validated: each row parses, opens inside the file's period, and opens
 * strictly after the row before it; the file holds at least one and at most MAX_ROWS_PER_FILE rows.
 * Blank lines at the end of the file (an editor's or a tool's extra newline) are ignored; a blank
 * line with rows after it is refused.
 */
const BYTE_ORDER_MARK = '\uFEFF';

export async function parseKlineLines(
  lines: AsyncIterable<string> | Iterable<string>,
  file: string,
  name: ArchiveFileName,
  onRows?: RowsParsed,
): Promise<StoredCandle[]> {
  const source: RowSource = { file, symbol: name.symbol };
  const candles: StoredCandle[] = [];
  let lineNumber = 0;
  let previous: StoredCandle | undefined;
  /** The first blank line met, refused once a row follows it. */
  let firstBlank: number | undefined;
  for await (const text of lines) {
    lineNumber++;
    // A byte order mark (an editor's UTF-8 save) is not part of the first row's open time.
    const line = lineNumber === 1 && text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text;
    if (line.trim() === '') {
      firstBlank ??= lineNumber;
      continue;
    }
    if (firstBlank !== undefined) throw new ImportRowError(file, firstBlank, 'empty line');
    if (candles.length >= MAX_ROWS_PER_FILE) {
      throw new ImportRowError(
        file,
        lineNumber,
        `more than ${MAX_ROWS_PER_FILE} rows (31 days of 1m candles)`,
      );
    }
    const candle = parseKlineRow(line, lineNumber, source);
    if (candle.openTime < name.periodStart || candle.openTime >= name.periodEnd) {
      throw new ImportRowError(
        file,
        lineNumber,
        `open time ${isoMinute(candle.openTime)} is outside ${name.period}`,
      );
    }
    if (previous && candle.openTime <= previous.openTime) {
      const what = candle.openTime === previous.openTime ? 'repeats' : 'comes before';
      throw new ImportRowError(
        file,
        lineNumber,
        `open time ${isoMinute(candle.openTime)} ${what} the previous row's ${isoMinute(previous.openTime)}; rows must ascend`,
      );
    }
    candles.push(candle);
    previous = candle;
    onRows?.(candles.length);
  }
  if (candles.length === 0) throw new ImportFileError(file, 'no rows');
  return candles;
}
