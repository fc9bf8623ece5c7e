/**
 * The custom `session` interval: boundaries at fixed local wall-clock hours of an IANA time zone.
 *
 * Local wall-clock time is handled as "wall ms": the local date and time written as if it were UTC
 * (`Date.UTC(y, m - 1, d, h, ...)`), so a local calendar day is `[day * DAY_MS, (day + 1) * DAY_MS)`.
 * Rules of the product contract: a boundary in a DST gap moves to the transition instant, a repeated
 * hour counts at its first occurrence, and boundaries landing on the same instant count once.
 */
import { ValidationError } from './errors.js';
import { DAY_MS, HOUR_MS, type Bucket, type BucketGrid } from './intervals.js';

export interface SessionCalendarOptions {
  readonly hours: readonly number[];
  readonly timeZone: string;
}

export interface SessionCalendar extends BucketGrid {
  /** Sorted, deduplicated. */
  readonly hours: readonly number[];
  readonly timeZone: string;
  /** Boundaries (UTC ms, ascending, deduped) of the local calendar date y-m-d. */
  boundariesOfLocalDate(year: number, month: number, day: number): number[];
}

/** Per calendar; ~11 years of days, so a long REST range never recomputes yet memory stays bounded. */
export const MAX_CACHED_DAYS = 4096;

/** Safety net: widening the day window this often means the zone data is not something we can grid. */
const MAX_WINDOW_WIDENINGS = 8;

/** Names that always mean a constant offset, where formatting every instant would be wasted work. */
const FIXED_ZONE_PATTERN = /^(?:Etc\/)?(?:UTC|UCT|GMT|Zulu|Universal|Greenwich)(?:[+-]\d{1,2})?$|^GMT0$/i;

/** Formatter construction costs far more than formatting, so one per zone for the process lifetime. */
const formatters = new Map<string, Intl.DateTimeFormat>();
/** Zone names are case-insensitive, so spellings are unbounded; past this many, stop remembering. */
const MAX_CACHED_ZONES = 1024;

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    if (formatters.size < MAX_CACHED_ZONES) formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(name: string): boolean {
  if (typeof name !== 'string' || name.trim() === '') return false;
  try {
    formatterFor(name);
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

/** Maps a UTC instant to its wall ms. */
type WallClock = (time: number) => number;

function zoneWallClock(timeZone: string): WallClock {
  const formatter = formatterFor(timeZone);
  const ianaWall: WallClock = (time) => {
    const fields = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
    for (const part of formatter.formatToParts(time)) {
      if (part.type in fields) fields[part.type as keyof typeof fields] = Number(part.value);
    }
    // Formatting drops milliseconds; add them back so the offset stays exact for any instant.
    const millis = ((time % 1000) + 1000) % 1000;
    const hour = fields.hour === 24 ? 0 : fields.hour; // old ICU builds may still print midnight as 24
    return Date.UTC(fields.year, fields.month - 1, fields.day, hour, fields.minute, fields.second) + millis;
  };
  if (!FIXED_ZONE_PATTERN.test(timeZone)) return ianaWall;
  const offset = ianaWall(0);
  return (time) => time + offset;
}

/**
 * The UTC instant of wall ms `wall`: the earliest instant showing it (first occurrence of a repeated
 * hour) or, when the clock skips it, the first instant after the skip (the transition itself).
 */
function resolveWall(wallOf: WallClock, wall: number): number {
  // Offsets a day either side bracket any single transition near `wall` (as Temporal does).
  const before = wall + (wall - DAY_MS) - wallOf(wall - DAY_MS); // wall minus the offset a day earlier
  const after = wall + (wall + DAY_MS) - wallOf(wall + DAY_MS);
  const matches = [before, after].filter((candidate) => wallOf(candidate) === wall);
  if (matches.length > 0) return Math.min(...matches);
  // A gap: the clock jumps from below `wall` to above it somewhere in [lo, hi].
  let lo = Math.min(before, after);
  let hi = Math.max(before, after);
  if (wallOf(lo) >= wall || wallOf(hi) < wall) return before; // not a simple gap; shift like Temporal
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallOf(mid) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

function normalizeHours(hours: readonly number[]): readonly number[] {
  if (!Array.isArray(hours) || hours.length === 0) {
    throw new ValidationError('session hours must be a non-empty list of integers 0..23');
  }
  for (const hour of hours) {
    if (!Number.isInteger(hour) || hour < 0 || hour > 23) {
      throw new ValidationError(`session hours must be integers 0..23, got ${String(hour)}`);
    }
  }
  const unique: number[] = [...new Set<number>(hours)];
  return Object.freeze(unique.sort((a, b) => a - b));
}

/** Sorted, adjacent duplicates removed; boundaries of neighbouring days may coincide (Samoa 2011). */
function sortedUnique(values: number[]): number[] {
  values.sort((a, b) => a - b);
  return values.filter((value, index) => index === 0 || value !== values[index - 1]);
}

export function createSessionCalendar(options: SessionCalendarOptions): SessionCalendar {
  const hours = normalizeHours(options.hours);
  const timeZone = options.timeZone;
  if (!isValidTimeZone(timeZone)) {
    throw new ValidationError(`unknown IANA time zone "${String(timeZone).slice(0, 64)}"`);
  }
  const wallOf = zoneWallClock(timeZone);
  const dayCache = new Map<number, readonly number[]>();
  // The boundaries of the last lookup's days: consecutive sessions mostly fall inside it.
  let window: readonly number[] = [];
  const offsetAt = (time: number): number => wallOf(time) - time;

  /** Boundaries of the local day numbered `day` (days since 1970-01-01 in wall ms). */
  function boundariesOfDay(day: number): readonly number[] {
    const cached = dayCache.get(day);
    if (cached !== undefined) return cached;
    const start = day * DAY_MS;
    // Most days have one offset throughout: then one check per hour beats resolveWall's four calls.
    const offset = offsetAt(start - DAY_MS);
    const steady = offset === offsetAt(start + 2 * DAY_MS);
    const resolve = (wall: number): number =>
      steady && wallOf(wall - offset) === wall ? wall - offset : resolveWall(wallOf, wall);
    const boundaries = sortedUnique(hours.map((hour) => resolve(start + hour * HOUR_MS)));
    if (dayCache.size >= MAX_CACHED_DAYS) {
      const oldest = dayCache.keys().next();
      if (oldest.done !== true) dayCache.delete(oldest.value);
    }
    dayCache.set(day, boundaries);
    return boundaries;
  }

  /** The bucket holding `time` within `list`, if both its edges are in it. */
  function findIn(list: readonly number[], time: number): Bucket | undefined {
    let lo = 0;
    let hi = list.length; // first index whose boundary is > time
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[mid] ?? Infinity) > time) hi = mid;
      else lo = mid + 1;
    }
    const open = list[hi - 1];
    const following = list[hi];
    if (open === undefined || following === undefined) return undefined;
    return { openTime: open, closeTime: following - 1 };
  }

  function sessionAt(time: number): Bucket {
    if (!Number.isFinite(time)) throw new ValidationError(`time must be a finite number, got ${time}`);
    const cached = findIn(window, time);
    if (cached !== undefined) return cached;
    const day = Math.floor(wallOf(time) / DAY_MS);
    let first = day - 1;
    let last = day + 1;
    for (let attempt = 0; attempt < MAX_WINDOW_WIDENINGS; attempt++) {
      const list: number[] = [];
      for (let d = first; d <= last; d++) list.push(...boundariesOfDay(d));
      window = sortedUnique(list);
      const found = findIn(window, time);
      if (found !== undefined) return found;
      // Only odd clock jumps of more than a day leave `time` at the window's edge.
      if ((window[0] ?? Infinity) > time) first--;
      else last++;
    }
    throw new Error(`no session boundaries around ${time} in ${timeZone}`);
  }

  return {
    hours,
    timeZone,
    bucketAt: sessionAt,
    // Only openTime is trusted, as the BucketGrid contract steps from a bucket's open time.
    next: (bucket) => sessionAt(sessionAt(bucket.openTime).closeTime + 1),
    previous: (bucket) => sessionAt(bucket.openTime - 1),
    boundariesOfLocalDate(year, month, day) {
      const date = new Date(0);
      date.setUTCFullYear(year, month - 1, day);
      const valid =
        date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
      if (!valid) throw new ValidationError(`not a calendar date: ${year}-${month}-${day}`);
      return [...boundariesOfDay(date.getTime() / DAY_MS)];
    },
  };
}
