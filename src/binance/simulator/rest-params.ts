/**
 * Query parameters and errors of the simulated REST API, with Binance's codes and messages
 * (BINANCE.md 3.8, fixture error_response.json): `{"code":-1121,"msg":"Invalid symbol."}`.
 */
import { SYMBOL_NAME_PATTERN } from './symbols.js';

export class BinanceApiError extends Error {
  override readonly name = 'BinanceApiError';
  readonly httpStatus: number;
  readonly code: number;

  constructor(httpStatus: number, code: number, message: string) {
    super(message);
    this.httpStatus = httpStatus;
    this.code = code;
  }
}

const bad = (code: number, message: string): BinanceApiError => new BinanceApiError(400, code, message);

export const SYMBOL_LEGAL_RANGE = '^[A-Z0-9-_.]{1,20}$';
const SYMBOLS_LEGAL_RANGE = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$';
const LONG_LEGAL_RANGE = '^[0-9]{1,20}$';
const LONG_PATTERN = /^[0-9]{1,20}$/;
/** Timestamps above this are microseconds: "can be passed in milliseconds or microseconds" (BINANCE.md 3.1). */
const MICROSECOND_THRESHOLD = 1e14;

export const apiErrors = {
  illegalChars: (param: string, range: string) =>
    bad(-1100, `Illegal characters found in parameter '${param}'; legal range is '${range}'.`),
  duplicateParam: () => bad(-1101, 'Duplicate values for a parameter detected.'),
  mandatory: (param: string) =>
    bad(-1102, `Mandatory parameter '${param}' was not sent, was empty/null, or malformed.`),
  unread: (read: number, sent: number) =>
    bad(-1104, `Not all sent parameters were read; read '${read}' parameter(s) but was sent '${sent}'.`),
  empty: (param: string) => bad(-1105, `Parameter '${param}' was empty.`),
  startAfterEnd: () => bad(-1023, 'Start time is greater than end time.'),
  badInterval: () => bad(-1120, 'Invalid interval.'),
  badSymbol: () => bad(-1121, 'Invalid symbol.'),
  badSymbolStatus: () => bad(-1122, 'Invalid symbolStatus.'),
  badCombination: () => bad(-1128, 'Combination of optional parameters invalid.'),
  invalidValue: (param: string) => bad(-1130, `Data sent for parameter '${param}' is not valid.`),
  duplicateSymbols: () => bad(-1151, 'Symbol is present multiple times in the list.'),
  statusMismatch: () => bad(-1220, "The symbol's status does not match the requested symbolStatus."),
  unknown: () => new BinanceApiError(500, -1000, 'An unknown error occurred while processing the request.'),
};

/** Reads a query string the way Binance does: duplicates and unread parameters are errors. */
export class Params {
  private readonly values = new Map<string, string>();
  private readonly read = new Set<string>();

  constructor(search: URLSearchParams) {
    for (const [name, value] of search) {
      if (this.values.has(name)) throw apiErrors.duplicateParam();
      this.values.set(name, value);
    }
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  optional(name: string): string | undefined {
    this.read.add(name);
    const value = this.values.get(name);
    if (value === '') throw apiErrors.empty(name);
    return value;
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) throw apiErrors.mandatory(name);
    return value;
  }

  /** Epoch ms; microsecond values are scaled down. */
  optionalTime(name: string): number | undefined {
    const text = this.optional(name);
    if (text === undefined) return undefined;
    if (!LONG_PATTERN.test(text)) throw apiErrors.illegalChars(name, LONG_LEGAL_RANGE);
    const value = Number(text);
    return value > MICROSECOND_THRESHOLD ? Math.floor(value / 1000) : value;
  }

  optionalInt(name: string): number | undefined {
    const text = this.optional(name);
    if (text === undefined) return undefined;
    if (!LONG_PATTERN.test(text)) throw apiErrors.illegalChars(name, LONG_LEGAL_RANGE);
    return Number(text);
  }

  /** Every parameter sent was read (Binance -1104 otherwise). */
  finish(): void {
    const unread = [...this.values.keys()].filter((name) => !this.read.has(name));
    if (unread.length > 0) throw apiErrors.unread(this.values.size - unread.length, this.values.size);
  }
}

export function checkSymbolName(text: string, param = 'symbol'): string {
  if (!SYMBOL_NAME_PATTERN.test(text)) throw apiErrors.illegalChars(param, SYMBOL_LEGAL_RANGE);
  return text;
}

/** `symbols=["BTCUSDT","BNBBTC"]` (BINANCE.md 3.4): a JSON array of symbol names. */
export function parseSymbolList(text: string, param = 'symbols'): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw apiErrors.illegalChars(param, SYMBOLS_LEGAL_RANGE);
  }
  if (!Array.isArray(parsed)) throw apiErrors.illegalChars(param, SYMBOLS_LEGAL_RANGE);
  const names = (parsed as unknown[]).map((entry) => {
    if (typeof entry !== 'string' || !SYMBOL_NAME_PATTERN.test(entry)) {
      throw apiErrors.illegalChars(param, SYMBOLS_LEGAL_RANGE);
    }
    return entry;
  });
  if (new Set(names).size !== names.length) throw apiErrors.duplicateSymbols();
  return names;
}

/** `permissions=SPOT` or `permissions=["MARGIN","LEVERAGED"]` (BINANCE.md 3.4). */
export function parsePermissions(text: string): string[] {
  if (!text.startsWith('[')) return [text];
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((p): p is string => typeof p === 'string')) return parsed;
  } catch {
    // reported below
  }
  throw apiErrors.invalidValue('permissions');
}

export const SYMBOL_STATUSES: ReadonlySet<string> = new Set(['TRADING', 'HALT', 'BREAK']);

export function parseSymbolStatus(text: string | undefined): string | undefined {
  if (text !== undefined && !SYMBOL_STATUSES.has(text)) throw apiErrors.badSymbolStatus();
  return text;
}
