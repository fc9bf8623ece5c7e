/** Shared request schemas: times (epoch ms or ISO 8601), limits, symbols, checks across fields. */
import { z } from 'zod';
import { MAX_TIME_MS, MINUTE_MS } from '../domain/intervals.js';
import { isSymbolName } from '../domain/symbol.js';

const EPOCH_MS_PATTERN = /^\d{1,16}$/;
/**
 * ISO 8601 as a query carries it. The offset's sign may be a space: an unencoded `+` in a query
 * string is read as a space (`?from=2024-09-21T00:00:00+02:00` arrives as `…00:00:00 02:00`).
 */
const ISO_8601_PATTERN =
  /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})(?:[T ](?<hour>\d{2}):(?<minute>\d{2})(?::(?<second>\d{2})(?:\.(?<fraction>\d{1,9}))?)?(?:Z|(?<sign>[+\- ])(?<offsetHours>\d{2}):?(?<offsetMinutes>\d{2}))?)?$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/**
 * Epoch ms of ISO 8601 text, or undefined for text that is not one or names an impossible time.
 * Computed from the fields rather than by `Date.parse`, which rolls `2024-02-30` over to March 1
 * and `T24:00` to the next day, and reads a time without an offset in the server's zone (here it
 * is UTC).
 */
function isoToEpochMs(text: string): number | undefined {
  const fields = ISO_8601_PATTERN.exec(text)?.groups;
  if (!fields) return undefined;
  const number = (name: string): number => Number(fields[name] ?? 0);
  const [year, month, day] = [number('year'), number('month'), number('day')];
  const [hour, minute, second] = [number('hour'), number('minute'), number('second')];
  const [offsetHours, offsetMinutes] = [number('offsetHours'), number('offsetMinutes')];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  // Digits past milliseconds are dropped, as Date.parse does.
  const ms = Number((fields.fraction ?? '').padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC, which reads years 0-99 as 1900-1999
  date.setUTCHours(hour, minute, second, ms);
  const offsetSign = fields.sign === '-' ? -1 : 1;
  return date.getTime() - offsetSign * (offsetHours * 60 + offsetMinutes) * MINUTE_MS;
}

/** A point in time as epoch ms (`1726876800000`) or ISO 8601 (`2024-09-21T00:00:00Z`), parsed to epoch ms. */
export const timeQuery = z
  .string()
  .transform((text, ctx) => {
    const ms = EPOCH_MS_PATTERN.test(text) ? Number(text) : isoToEpochMs(text);
    if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0) {
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

/** A count as a query carries it: digits only (so `0x10`, `1e2`, ` 5` and an empty value are refused). */
const WHOLE_NUMBER_PATTERN = /^\d+$/;

/**
 * A `limit` of at most `max`, `fallback` when absent. Only digits are read: `z.coerce.number` alone
 * would take `0x10` as 16, `1e2` as 100 and an empty `limit=` as 0 ("must be at least 1").
 */
export const limitQuery = (fallback: number, max: number) =>
  z
    .preprocess(
      (value) => (typeof value === 'string' && !WHOLE_NUMBER_PATTERN.test(value) ? Number.NaN : value),
      z.coerce
        .number({ message: 'must be a whole number' })
        .int('must be a whole number')
        .min(1, 'must be at least 1')
        .max(max, `must be at most ${max}`)
        .default(fallback),
    )
    .describe(`default ${fallback}, at most ${max}`);

/** Control characters (C0, DEL, C1): NUL cannot be stored in PostgreSQL's text, and none belongs in a name or a search. */
const CONTROL_CHARACTER = /\p{Cc}/u;

/** Refuses text with a control character (a 400 naming the field, on every store alike). */
export const withoutControlCharacters = <S extends z.ZodType<string>>(schema: S) =>
  schema.refine((text) => !CONTROL_CHARACTER.test(text), 'must not contain control characters');

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

/** What a check across fields is given: the fields that parsed, and the names of those that did not. */
export type CrossFieldCheck<T> = (
  fields: Partial<T>,
  ctx: z.RefinementCtx<T>,
  failed: ReadonlySet<keyof T>,
) => void;

/**
 * Adds a check across the fields of an object schema that runs even when some field failed.
 * zod skips an object's own checks once any field has an issue, so a body with one wrong type
 * would not be told that its other fields disagree: the 400 must name every bad field (SPEC
 * section 5). A field that failed holds zod's leftovers, so the check sees only the fields that
 * parsed (and `failed` names the others).
 */
export function withCrossFieldCheck<S extends z.ZodObject>(
  schema: S,
  check: CrossFieldCheck<z.output<S>>,
): S {
  return schema.superRefine(
    (value, ctx) => {
      const failed = new Set(ctx.issues.map((issue) => issue.path?.[0]));
      const fields = Object.fromEntries(Object.entries(value).filter(([key]) => !failed.has(key)));
      check(fields as Partial<z.output<S>>, ctx, failed as ReadonlySet<keyof z.output<S>>);
    },
    // Skipped only when the input itself is not an object: then there are no fields to compare.
    {
      when: (payload) =>
        !payload.issues.some((issue) => issue.code === 'invalid_type' && (issue.path?.length ?? 0) === 0),
    },
  );
}

/** The `from <= to` rule of a query that has both, for `withCrossFieldCheck`. */
export function checkRange(
  value: { from?: number | undefined; to?: number | undefined },
  ctx: z.RefinementCtx,
): void {
  if (value.from !== undefined && value.to !== undefined && value.from > value.to) {
    ctx.addIssue({ code: 'custom', path: ['from'], message: 'must not be after to' });
  }
}
