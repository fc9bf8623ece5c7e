/**
 * How the Redis cache (./cache.ts) writes values as text and reads them back, exactly: decimals stay
 * the caller's strings. Each value carries the `now` of its write, which decides its expiry; a
 * value that does not decode (another version's, or damaged) reads as absent.
 */
import type { Candle } from '../../domain/candle.js';
import { SECOND_MS, type PriceQuote, type PriceSample } from '../../domain/price.js';
import { QUOTE_TTL_MS, SESSION_TTL_MS, WINDOW_SECONDS } from '../../ports/cache.js';

export function encodeQuote(quote: PriceQuote, now: number): string {
  const { timestamp, price, open24h, high24h, low24h, volume24h, quoteVolume24h } = quote;
  return [timestamp, now, price, open24h, high24h, low24h, volume24h, quoteVolume24h].join('|');
}

/** The stored form of a quote, split at its `|`. */
type QuoteParts = [
  timestamp: string,
  writtenAt: string,
  price: string,
  open24h: string,
  high24h: string,
  low24h: string,
  volume24h: string,
  quoteVolume24h: string,
];
const QUOTE_PARTS = 8;

const DIGITS = /^\d{1,16}$/;
/** Epoch ms or a count as stored: digits only, so `abc` or an empty field never reads as NaN. */
const isStoredInteger = (text: string): boolean => DIGITS.test(text) && Number.isSafeInteger(Number(text));

/** A quote's eight fields: two integers, then six values (the caller's strings, never empty). */
const isQuoteParts = (parts: string[] | undefined): parts is QuoteParts =>
  parts?.length === QUOTE_PARTS && parts.every((part, i) => (i < 2 ? isStoredInteger(part) : part !== ''));

export function decodeQuote(
  symbol: string,
  value: string | null | undefined,
  now: number,
): PriceQuote | undefined {
  const parts = value?.split('|');
  if (!isQuoteParts(parts)) return undefined;
  const [timestamp, writtenAt, price, open24h, high24h, low24h, volume24h, quoteVolume24h] = parts;
  if (!(now - Number(writtenAt) < QUOTE_TTL_MS)) return undefined;
  return { symbol, price, timestamp: Number(timestamp), open24h, high24h, low24h, volume24h, quoteVolume24h };
}

/** A window field's value: the millisecond part as exactly 3 digits, then the price. */
const WINDOW_VALUE = /^(\d{3})(.+)$/;

/** The millisecond part as exactly 3 digits, then the price: one field value of a window bucket. */
export const encodeWindowValue = (sample: PriceSample): string =>
  `${String(sample.timestamp % SECOND_MS).padStart(3, '0')}${sample.price}`;

export function decodeWindow(
  symbol: string,
  reply: unknown,
  bucketSeconds: number,
  from: number,
  to: number,
): PriceSample[] {
  if (!Array.isArray(reply) || typeof reply[0] !== 'number') return [];
  const oldestSecond = reply[0] - WINDOW_SECONDS;
  const samples: PriceSample[] = [];
  for (let i = 1; i + 1 < reply.length; i += 2) {
    const bucket: unknown = reply[i];
    const fields: unknown = reply[i + 1];
    if (typeof bucket !== 'number' || !Array.isArray(fields)) continue;
    for (let j = 0; j + 1 < fields.length; j += 2) {
      const offset: unknown = fields[j];
      const value: unknown = fields[j + 1];
      if (typeof offset !== 'string' || typeof value !== 'string') continue;
      // A field not of this codec (damaged, or another version's) is skipped, never read as NaN.
      const offsetSeconds = Number(offset);
      const parts = WINDOW_VALUE.exec(value);
      if (!DIGITS.test(offset) || offsetSeconds >= bucketSeconds || !parts) continue;
      const second = bucket * bucketSeconds + offsetSeconds;
      const timestamp = second * SECOND_MS + Number(parts[1]);
      if (second <= oldestSecond || timestamp < from || timestamp > to) continue;
      samples.push({ symbol, price: parts[2]!, timestamp });
    }
  }
  return samples.sort((a, b) => a.timestamp - b.timestamp);
}

/** The stored form of a session candle: when it was written, then the candle without its key. */
type EncodedCandle = [
  writtenAt: number,
  interval: string,
  closeTime: number,
  open: string,
  high: string,
  low: string,
  close: string,
  volume: string,
  quoteVolume: string,
  trades: number,
  takerBuyVolume: string,
  takerBuyQuoteVolume: string,
  closed: number,
];
const ENCODED_CANDLE_TYPES = [
  'number',
  'string',
  'number',
  'string',
  'string',
  'string',
  'string',
  'string',
  'string',
  'number',
  'string',
  'string',
  'number',
] as const;

const isEncodedCandle = (value: unknown): value is EncodedCandle =>
  Array.isArray(value) &&
  value.length === ENCODED_CANDLE_TYPES.length &&
  ENCODED_CANDLE_TYPES.every(
    (type, i) =>
      typeof value[i] === type && (type === 'number' ? Number.isSafeInteger(value[i]) : value[i] !== ''),
  );

export function encodeCandle(candle: Candle, now: number): string {
  const encoded: EncodedCandle = [
    now,
    candle.interval,
    candle.closeTime,
    candle.open,
    candle.high,
    candle.low,
    candle.close,
    candle.volume,
    candle.quoteVolume,
    candle.trades,
    candle.takerBuyVolume,
    candle.takerBuyQuoteVolume,
    candle.closed ? 1 : 0,
  ];
  return JSON.stringify(encoded);
}

export function decodeCandle(
  symbol: string,
  openTime: number,
  value: string,
  now: number,
): Candle | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!isEncodedCandle(parsed)) return undefined;
  const [
    writtenAt,
    interval,
    closeTime,
    open,
    high,
    low,
    close,
    volume,
    quoteVolume,
    trades,
    takerBuyVolume,
    takerBuyQuoteVolume,
    closed,
  ] = parsed;
  if (!(now - writtenAt < SESSION_TTL_MS)) return undefined;
  return {
    symbol,
    interval,
    openTime,
    closeTime,
    open,
    high,
    low,
    close,
    volume,
    quoteVolume,
    trades,
    takerBuyVolume,
    takerBuyQuoteVolume,
    closed: closed === 1,
  };
}
