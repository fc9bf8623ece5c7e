/**
 * Exact decimal arithmetic for Binance's decimal strings ("63012.34000000").
 *
 * A value is `units / 10^scale` with `units` a bigint, so sums of prices and volumes are exact:
 * no float is ever added. Binance sends at most 8 fractional digits; arithmetic takes any scale,
 * input is held to MAX_INPUT_DECIMAL_DIGITS on each side of the point.
 */
import { ValidationError } from './errors.js';

export interface Decimal {
  readonly units: bigint;
  readonly scale: number;
}

/** Longest decimal string accepted, in characters; longer input is hostile, not a price. */
export const MAX_DECIMAL_LENGTH = 64;
/**
 * Digits a decimal from outside (the exchange's frames and answers, kline files) may have on each
 * side of its point: far beyond any price or volume (Binance writes 8 fractional digits), and few
 * enough that the sums stored from them (a 1d rollup adds 1440 minutes) still read back within
 * MAX_DECIMAL_LENGTH. A longer one would be stored, but every rollup write touching it refused.
 */
export const MAX_INPUT_DECIMAL_DIGITS = 24;

const DECIMAL_PATTERN = /^(-?)(\d+)(?:\.(\d+))?$/;
const INPUT_DECIMAL_PATTERN = new RegExp(
  `^-?\\d{1,${MAX_INPUT_DECIMAL_DIGITS}}(?:\\.\\d{1,${MAX_INPUT_DECIMAL_DIGITS}})?$`,
);
const POWERS_OF_TEN: bigint[] = [1n];

function pow10(exponent: number): bigint {
  for (let i = POWERS_OF_TEN.length; i <= exponent; i++) {
    POWERS_OF_TEN.push(POWERS_OF_TEN[i - 1]! * 10n);
  }
  return POWERS_OF_TEN[exponent]!;
}

export const ZERO: Decimal = Object.freeze({ units: 0n, scale: 0 });

/** Whether input text is a plain decimal of at most MAX_INPUT_DECIMAL_DIGITS on each side of its point. */
export function isDecimalString(text: string): boolean {
  return text.length <= MAX_DECIMAL_LENGTH && INPUT_DECIMAL_PATTERN.test(text);
}

/**
 * `part / whole × 100` rounded to `fractionDigits` places, halves away from zero, computed exactly
 * (so a rise and an equal fall round alike, and a tiny change is 0, never -0); 0 when `whole` is 0.
 */
export function percentOf(part: Decimal, whole: Decimal, fractionDigits: number): number {
  if (whole.units === 0n) return 0;
  // part.units / 10^part.scale / (whole.units / 10^whole.scale) × 100 × 10^fractionDigits
  let numerator = part.units * pow10(whole.scale) * pow10(fractionDigits + 2);
  let denominator = whole.units * pow10(part.scale);
  if (denominator < 0n) [numerator, denominator] = [-numerator, -denominator];
  const magnitude = numerator < 0n ? -numerator : numerator;
  const rounded = (2n * magnitude + denominator) / (2n * denominator);
  if (rounded === 0n) return 0;
  const value = Number(rounded) / 10 ** fractionDigits;
  return numerator < 0n ? -value : value;
}

export function parseDecimal(text: string): Decimal {
  const match = text.length <= MAX_DECIMAL_LENGTH ? DECIMAL_PATTERN.exec(text) : null;
  if (!match) throw new ValidationError(`not a decimal number: "${text.slice(0, 40)}"`);
  const fraction = match[3] ?? '';
  const units = BigInt(match[2]! + fraction);
  return { units: match[1] ? -units : units, scale: fraction.length };
}

function rescale(value: Decimal, scale: number): bigint {
  return value.scale === scale ? value.units : value.units * pow10(scale - value.scale);
}

export function addDecimal(a: Decimal, b: Decimal): Decimal {
  if (a.scale === b.scale) return { units: a.units + b.units, scale: a.scale };
  const scale = Math.max(a.scale, b.scale);
  return { units: rescale(a, scale) + rescale(b, scale), scale };
}

export function compareDecimal(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const scale = Math.max(a.scale, b.scale);
  const x = rescale(a, scale);
  const y = rescale(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function maxDecimal(a: Decimal, b: Decimal): Decimal {
  return compareDecimal(a, b) >= 0 ? a : b;
}

export function minDecimal(a: Decimal, b: Decimal): Decimal {
  return compareDecimal(a, b) <= 0 ? a : b;
}

/** Canonical text: no trailing fractional zeros, no leading zeros, "0" for zero ("-0" never appears). */
export function formatDecimal(value: Decimal): string {
  let { units, scale } = value;
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n;
    scale--;
  }
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString();
  if (scale === 0) return negative ? `-${digits}` : digits;
  const padded = digits.padStart(scale + 1, '0');
  const text = `${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** Canonical form of a decimal string, e.g. "0.01634790" → "0.0163479". Throws on non-decimals. */
export function canonicalDecimal(text: string): string {
  return formatDecimal(parseDecimal(text));
}

/** The JSON number of a decimal: exactly `parseFloat` of its text, as SPEC section 4 asks. */
export function decimalToNumber(text: string): number {
  return Number.parseFloat(text);
}

/** Sum of decimal strings, exact. */
export function sumDecimals(texts: readonly string[]): string {
  let total = ZERO;
  for (const text of texts) total = addDecimal(total, parseDecimal(text));
  return formatDecimal(total);
}

export function negateDecimal(value: Decimal): Decimal {
  return { units: -value.units, scale: value.scale };
}

export function subtractDecimal(a: Decimal, b: Decimal): Decimal {
  return addDecimal(a, negateDecimal(b));
}
