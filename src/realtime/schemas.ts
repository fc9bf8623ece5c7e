/**
 * zod schemas of every client payload: strict objects (an unknown key is a mistake worth naming),
 * symbols trimmed, upper-cased and checked like the REST edge does.
 */
import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import { MAX_TIME_MS } from '../domain/intervals.js';
import { isSymbolName } from '../domain/symbol.js';

/** Symbols one `get_multiple_prices` may ask for (the subscription limit: a whole watch list). */
export const MAX_SYMBOLS_PER_PRICES_REQUEST = 250;
export const DEFAULT_RECENT_INTERVALS = 6;
export const MAX_RECENT_INTERVALS = 100;
/** Longer text is not a symbol; cut before upper-casing so a huge string costs nothing. */
const MAX_SYMBOL_TEXT_LENGTH = 64;

const symbol = z
  .string()
  .max(MAX_SYMBOL_TEXT_LENGTH)
  .transform((text) => text.trim().toUpperCase())
  .refine(isSymbolName, { message: 'must be a symbol such as BTCUSDT' });

export const symbolPayloadSchema = z.strictObject({ symbol });

export const multiplePricesSchema = z.strictObject({
  symbols: z.array(symbol).min(1).max(MAX_SYMBOLS_PER_PRICES_REQUEST),
});

export const intervalDataSchema = z.strictObject({
  symbol,
  intervalStart: z.number().int().min(0).max(MAX_TIME_MS).optional(),
});

export const recentIntervalsSchema = z.strictObject({
  symbol,
  count: z.number().int().min(1).max(MAX_RECENT_INTERVALS).default(DEFAULT_RECENT_INTERVALS),
});

/**
 * Parses or throws a ValidationError naming every bad field. A binary payload (Socket.IO hands it
 * over as a Buffer) is refused as a whole: read as an object, each of its bytes and Buffer's
 * methods would be an unknown key of its own.
 */
export function parsePayload<T extends z.ZodType>(schema: T, payload: unknown): z.output<T> {
  if (payload instanceof ArrayBuffer || ArrayBuffer.isView(payload)) {
    throw new ValidationError('invalid payload', [
      { path: '', message: 'binary data is not accepted; send a JSON object' },
    ]);
  }
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  throw new ValidationError(
    'invalid payload',
    result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  );
}
