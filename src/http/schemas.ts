/** Shared request schemas: times (epoch ms or ISO 8601), limits, symbols. */
import { z } from 'zod';
import { MAX_TIME_MS } from '../domain/intervals.js';
import { isSymbolName } from '../domain/symbol.js';

const EPOCH_MS_PATTERN = /^\d{1,16}$/;
const ISO_8601_PATTERN =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** ISO 8601 text with its zone made explicit: a time without an offset is UTC, never server-local. */
function asUtcIso(text: string): string {
  const iso = text.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  if (!iso.includes('T') || /(?:Z|[+-]\d{2}:\d{2})$/.test(iso)) return iso;
  return `${iso}Z`;
}

/** A point in time as epoch ms (`1726876800000`) or ISO 8601 (`2024-09-21T00:00:00Z`), parsed to epoch ms. */
export const timeQuery = z
  .string()
  .transform((text, ctx) => {
    const ms = EPOCH_MS_PATTERN.test(text)
      ? Number(text)
      : ISO_8601_PATTERN.test(text)
        ? Date.parse(asUtcIso(text))
        : Number.NaN;
    if (!Number.isSafeInteger(ms) || ms < 0) {
      ctx.addIssue({ code: 'custom', message: 'must be epoch milliseconds or an ISO 8601 time' });
      return z.NEVER;
    }
    if (ms > MAX_TIME_MS) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_TIME_MS} (the end of year 9999)` });
      return z.NEVER;
    }
    return ms;
  })
  .describe('epoch milliseconds or ISO 8601 (UTC when no offset is given)')
  .optional();

export const limitQuery = (fallback: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(max, `must be at most ${max}`)
    .default(fallback)
    .describe(`default ${fallback}, at most ${max}`);

export const booleanQuery = z
  .enum(['true', 'false'], { message: 'must be true or false' })
  .transform((text) => text === 'true')
  .optional();

/**
 * A symbol name, trimmed and upper-cased before it is checked (as `normalizeSymbol` does), so
 * ` ethusdt ` reads as `ETHUSDT`. Its pattern bounds the length, so there is no separate maximum.
 */
export const symbolName = z
  .string()
  .trim()
  .toUpperCase()
  .refine(isSymbolName, 'must be a symbol such as BTCUSDT');

export const symbolParams = z.object({ symbol: symbolName });

/** Adds the `from <= to` rule to a query that has both. */
export function checkRange(
  value: { from?: number | undefined; to?: number | undefined },
  ctx: z.RefinementCtx,
): void {
  if (value.from !== undefined && value.to !== undefined && value.from > value.to) {
    ctx.addIssue({ code: 'custom', path: ['from'], message: 'must not be after to' });
  }
}
