/** Tracked symbols (SPEC section 4): upper case, as Binance writes them. */
import { ValidationError } from './errors.js';

export interface SymbolRecord {
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  /** Binance's trading status (TRADING, HALT, BREAK, END_OF_DAY, CANCEL_ONLY, …); kept as text, new ones appear. */
  readonly status: string;
  readonly isActive: boolean;
  /** Epoch ms. */
  readonly createdAt: number;
}

export type NewSymbol = Omit<SymbolRecord, 'createdAt'>;

/** Binance symbols may hold non-ASCII letters (e.g. 币安人生USDT, BINANCE.md section 1.2). */
const SYMBOL_PATTERN = /^[\p{Lu}\p{Lo}\p{N}]{2,32}$/u;

/** Quote assets recognised when a symbol arrives without its parts (e.g. from a file name). */
const KNOWN_QUOTE_ASSETS = [
  'USDT',
  'USDC',
  'FDUSD',
  'TUSD',
  'BUSD',
  'BTC',
  'ETH',
  'BNB',
  'EUR',
  'TRY',
] as const;

export function isSymbolName(text: string): boolean {
  return SYMBOL_PATTERN.test(text);
}

export function normalizeSymbol(text: string): string {
  const symbol = text.trim().toUpperCase();
  if (!isSymbolName(symbol)) throw new ValidationError(`not a symbol: "${text.slice(0, 40)}"`);
  return symbol;
}

/** Splits `BTCUSDT` into `BTC` and `USDT` by the longest known quote suffix. */
export function splitSymbol(symbol: string): { baseAsset: string; quoteAsset: string } {
  const quote = [...KNOWN_QUOTE_ASSETS]
    .sort((a, b) => b.length - a.length)
    .find((candidate) => symbol.endsWith(candidate) && symbol.length > candidate.length);
  if (!quote) return { baseAsset: symbol, quoteAsset: '' };
  return { baseAsset: symbol.slice(0, -quote.length), quoteAsset: quote };
}
