import { describe, expect, it } from 'vitest';

import { ValidationError } from './errors.js';
import { createFixedGrid, HOUR_MS, type Bucket } from './intervals.js';
import {
  createSessionCalendar,
  isValidTimeZone,
  MAX_CACHED_DAYS,
  type SessionCalendar,
} from './session-calendar.js';

const DEFAULT_HOURS = [1, 5, 9, 13, 17, 21];
const at = (iso: string): number => Date.parse(iso);
const isoOf = (time: number): string => new Date(time).toISOString();
const calendar = (timeZone: string, hours: readonly number[] = DEFAULT_HOURS): SessionCalendar =>
  createSessionCalendar({ hours, timeZone });

/** The boundaries of a local date as ISO strings, for readable assertions. */
function boundaries(cal: SessionCalendar, year: number, month: number, day: number): string[] {
  return cal.boundariesOfLocalDate(year, month, day).map(isoOf);
}

/** `count` consecutive sessions from the one holding `fromIso`, as [open ISO, length in hours]. */
function sessions(cal: SessionCalendar, fromIso: string, count: number): [string, number][] {
  const result: [string, number][] = [];
  let bucket = cal.bucketAt(at(fromIso));
  for (let i = 0; i < count; i++) {
    result.push([isoOf(bucket.openTime), (bucket.closeTime + 1 - bucket.openTime) / HOUR_MS]);
    bucket = cal.next(bucket);
  }
  return result;
}

/** Every session opening in [fromIso, toIso). */
function walk(cal: SessionCalendar, fromIso: string, toIso: string): Bucket[] {
  const result: Bucket[] = [];
  for (let bucket = cal.bucketAt(at(fromIso)); bucket.openTime < at(toIso); bucket = cal.next(bucket)) {
    result.push(bucket);
  }
  return result;
}

const bucket = (openIso: string, closeIso: string): Bucket => ({
  openTime: at(openIso),
  closeTime: at(closeIso) - 1,
});

describe('createSessionCalendar with default hours in UTC', () => {
  const utc = calendar('UTC');

  it('opens sessions at 01, 05, 09, 13, 17 and 21 UTC', () => {
    expect(boundaries(utc, 2024, 6, 15)).toEqual([
      '2024-06-15T01:00:00.000Z',
      '2024-06-15T05:00:00.000Z',
      '2024-06-15T09:00:00.000Z',
      '2024-06-15T13:00:00.000Z',
      '2024-06-15T17:00:00.000Z',
      '2024-06-15T21:00:00.000Z',
    ]);
  });

  it('puts a boundary instant in the session it opens', () => {
    expect(utc.bucketAt(at('2024-06-15T09:00:00Z'))).toEqual(
      bucket('2024-06-15T09:00:00Z', '2024-06-15T13:00:00Z'),
    );
  });

  it('puts the instant 1 ms before a boundary in the previous session', () => {
    expect(utc.bucketAt(at('2024-06-15T09:00:00Z') - 1)).toEqual(
      bucket('2024-06-15T05:00:00Z', '2024-06-15T09:00:00Z'),
    );
  });

  it('finds the session holding a mid-session instant', () => {
    expect(utc.bucketAt(at('2024-06-15T11:22:33.444Z'))).toEqual(
      bucket('2024-06-15T09:00:00Z', '2024-06-15T13:00:00Z'),
    );
  });

  it('runs the 21:00 session to 01:00 of the next day', () => {
    const expected = bucket('2024-06-15T21:00:00Z', '2024-06-16T01:00:00Z');
    expect(utc.bucketAt(at('2024-06-15T21:00:00Z'))).toEqual(expected);
    expect(utc.bucketAt(at('2024-06-16T00:30:00Z'))).toEqual(expected);
    expect(utc.bucketAt(at('2024-06-16T01:00:00Z') - 1)).toEqual(expected);
    expect(utc.next(expected)).toEqual(bucket('2024-06-16T01:00:00Z', '2024-06-16T05:00:00Z'));
  });

  it('runs the session before 01:00 from 21:00 of the previous day, across a year end', () => {
    expect(utc.bucketAt(at('2025-01-01T00:00:00Z'))).toEqual(
      bucket('2024-12-31T21:00:00Z', '2025-01-01T01:00:00Z'),
    );
  });

  it('makes every session of 2024 4 hours long, 6 a day', () => {
    const all = walk(utc, '2024-01-01T01:00:00Z', '2025-01-01T01:00:00Z');
    expect(all).toHaveLength(366 * 6);
    for (const b of all) expect(b.closeTime + 1 - b.openTime).toBe(4 * HOUR_MS);
  });

  it('equals the fixed 4h grid with a -1:00 offset for every session of 2024', () => {
    const offset = -HOUR_MS;
    const length = 4 * HOUR_MS;
    const fixed = createFixedGrid(length, offset);
    for (const b of walk(utc, '2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z')) {
      for (const t of [b.openTime, b.openTime + 1, b.openTime + 2 * HOUR_MS, b.closeTime]) {
        expect(Math.floor((t + offset) / length) * length - offset).toBe(b.openTime);
        expect(utc.bucketAt(t)).toEqual(fixed.bucketAt(t));
      }
    }
  });

  it('reads Etc/UTC and GMT the same as UTC', () => {
    for (const name of ['Etc/UTC', 'GMT', 'Etc/GMT']) {
      expect(boundaries(calendar(name), 2024, 6, 15)).toEqual(boundaries(utc, 2024, 6, 15));
    }
  });
});

describe('createSessionCalendar in Europe/London', () => {
  const london = calendar('Europe/London');

  it('moves local 01:00 on the spring forward day to the transition instant', () => {
    expect(boundaries(london, 2024, 3, 30)).toEqual([
      '2024-03-30T01:00:00.000Z',
      '2024-03-30T05:00:00.000Z',
      '2024-03-30T09:00:00.000Z',
      '2024-03-30T13:00:00.000Z',
      '2024-03-30T17:00:00.000Z',
      '2024-03-30T21:00:00.000Z',
    ]);
    expect(boundaries(london, 2024, 3, 31)).toEqual([
      '2024-03-31T01:00:00.000Z', // local 01:00 does not exist: 02:00 BST
      '2024-03-31T04:00:00.000Z',
      '2024-03-31T08:00:00.000Z',
      '2024-03-31T12:00:00.000Z',
      '2024-03-31T16:00:00.000Z',
      '2024-03-31T20:00:00.000Z',
    ]);
    expect(boundaries(london, 2024, 4, 1)[0]).toBe('2024-04-01T00:00:00.000Z');
  });

  it('shortens the session right after spring forward to 3 hours', () => {
    expect(sessions(london, '2024-03-30T17:00:00Z', 5)).toEqual([
      ['2024-03-30T17:00:00.000Z', 4],
      ['2024-03-30T21:00:00.000Z', 4],
      ['2024-03-31T01:00:00.000Z', 3],
      ['2024-03-31T04:00:00.000Z', 4],
      ['2024-03-31T08:00:00.000Z', 4],
    ]);
  });

  it('counts local 01:00 on the fall back day at its first occurrence (BST)', () => {
    expect(boundaries(london, 2024, 10, 26)).toEqual([
      '2024-10-26T00:00:00.000Z',
      '2024-10-26T04:00:00.000Z',
      '2024-10-26T08:00:00.000Z',
      '2024-10-26T12:00:00.000Z',
      '2024-10-26T16:00:00.000Z',
      '2024-10-26T20:00:00.000Z',
    ]);
    expect(boundaries(london, 2024, 10, 27)).toEqual([
      '2024-10-27T00:00:00.000Z', // 01:00 BST, not 01:00 GMT
      '2024-10-27T05:00:00.000Z',
      '2024-10-27T09:00:00.000Z',
      '2024-10-27T13:00:00.000Z',
      '2024-10-27T17:00:00.000Z',
      '2024-10-27T21:00:00.000Z',
    ]);
  });

  it('lengthens the session across fall back to 5 hours', () => {
    expect(sessions(london, '2024-10-26T16:00:00Z', 5)).toEqual([
      ['2024-10-26T16:00:00.000Z', 4],
      ['2024-10-26T20:00:00.000Z', 4],
      ['2024-10-27T00:00:00.000Z', 5],
      ['2024-10-27T05:00:00.000Z', 4],
      ['2024-10-27T09:00:00.000Z', 4],
    ]);
  });

  it('puts both occurrences of the repeated hour in the 5 hour session', () => {
    const expected = bucket('2024-10-27T00:00:00Z', '2024-10-27T05:00:00Z');
    expect(london.bucketAt(at('2024-10-27T00:30:00Z'))).toEqual(expected); // 01:30 BST
    expect(london.bucketAt(at('2024-10-27T01:30:00Z'))).toEqual(expected); // 01:30 GMT
  });

  it('follows local time in summer: 01:00 BST is 00:00 UTC', () => {
    expect(boundaries(london, 2024, 7, 1)[0]).toBe('2024-07-01T00:00:00.000Z');
  });
});

describe('createSessionCalendar in America/New_York', () => {
  const newYork = calendar('America/New_York');

  it('shortens the session across spring forward to 3 hours with default hours', () => {
    expect(boundaries(newYork, 2024, 3, 10)).toEqual([
      '2024-03-10T06:00:00.000Z',
      '2024-03-10T09:00:00.000Z',
      '2024-03-10T13:00:00.000Z',
      '2024-03-10T17:00:00.000Z',
      '2024-03-10T21:00:00.000Z',
      '2024-03-11T01:00:00.000Z',
    ]);
    expect(sessions(newYork, '2024-03-10T02:00:00Z', 3)).toEqual([
      ['2024-03-10T02:00:00.000Z', 4],
      ['2024-03-10T06:00:00.000Z', 3],
      ['2024-03-10T09:00:00.000Z', 4],
    ]);
  });

  it('lengthens the session across fall back to 5 hours with default hours', () => {
    expect(boundaries(newYork, 2024, 11, 3)).toEqual([
      '2024-11-03T05:00:00.000Z',
      '2024-11-03T10:00:00.000Z',
      '2024-11-03T14:00:00.000Z',
      '2024-11-03T18:00:00.000Z',
      '2024-11-03T22:00:00.000Z',
      '2024-11-04T02:00:00.000Z',
    ]);
    expect(sessions(newYork, '2024-11-03T01:00:00Z', 3)).toEqual([
      ['2024-11-03T01:00:00.000Z', 4],
      ['2024-11-03T05:00:00.000Z', 5],
      ['2024-11-03T10:00:00.000Z', 4],
    ]);
  });

  it('moves hour 2 on the spring forward day to the transition instant (03:00 EDT)', () => {
    expect(boundaries(calendar('America/New_York', [2]), 2024, 3, 10)).toEqual(['2024-03-10T07:00:00.000Z']);
  });

  it('counts hours 2 and 3 on the spring forward day once, as they land on one instant', () => {
    const cal = calendar('America/New_York', [1, 2, 3, 5]);
    expect(boundaries(cal, 2024, 3, 10)).toEqual([
      '2024-03-10T06:00:00.000Z',
      '2024-03-10T07:00:00.000Z',
      '2024-03-10T09:00:00.000Z',
    ]);
    expect(sessions(cal, '2024-03-10T06:00:00Z', 3)).toEqual([
      ['2024-03-10T06:00:00.000Z', 1],
      ['2024-03-10T07:00:00.000Z', 2],
      ['2024-03-10T09:00:00.000Z', 20],
    ]);
  });

  it('counts hour 1 on the fall back day at its first occurrence (01:00 EDT)', () => {
    expect(boundaries(calendar('America/New_York', [1]), 2024, 11, 3)).toEqual(['2024-11-03T05:00:00.000Z']);
  });

  it('makes a 2 hour and a 23 hour session on the fall back day with hours [1, 2]', () => {
    const cal = calendar('America/New_York', [2, 1]);
    expect(boundaries(cal, 2024, 11, 3)).toEqual(['2024-11-03T05:00:00.000Z', '2024-11-03T07:00:00.000Z']);
    expect(sessions(cal, '2024-11-03T05:00:00Z', 3)).toEqual([
      ['2024-11-03T05:00:00.000Z', 2],
      ['2024-11-03T07:00:00.000Z', 23],
      ['2024-11-04T06:00:00.000Z', 1],
    ]);
  });

  it('dedupes the one colliding boundary of 2024 with hours [1, 2, 3]', () => {
    const cal = calendar('America/New_York', [1, 2, 3]);
    let total = 0;
    for (let day = new Date(Date.UTC(2024, 0, 1)); day.getUTCFullYear() === 2024;) {
      total += cal.boundariesOfLocalDate(
        day.getUTCFullYear(),
        day.getUTCMonth() + 1,
        day.getUTCDate(),
      ).length;
      day = new Date(day.getTime() + 24 * HOUR_MS);
    }
    expect(total).toBe(366 * 3 - 1);
  });
});

describe('createSessionCalendar in Asia/Kathmandu (+05:45, no DST)', () => {
  const kathmandu = calendar('Asia/Kathmandu');

  it('puts boundaries at a quarter past the UTC hour, local 01:00 on the previous UTC day', () => {
    expect(boundaries(kathmandu, 2024, 6, 15)).toEqual([
      '2024-06-14T19:15:00.000Z',
      '2024-06-14T23:15:00.000Z',
      '2024-06-15T03:15:00.000Z',
      '2024-06-15T07:15:00.000Z',
      '2024-06-15T11:15:00.000Z',
      '2024-06-15T15:15:00.000Z',
    ]);
  });

  it('finds the session of an instant between UTC midnight and local 05:00', () => {
    expect(kathmandu.bucketAt(at('2024-06-15T00:00:00Z'))).toEqual(
      bucket('2024-06-14T23:15:00Z', '2024-06-15T03:15:00Z'),
    );
  });

  it('keeps every session of 2024 4 hours long', () => {
    const all = walk(kathmandu, '2024-01-01T03:15:00Z', '2025-01-01T03:15:00Z');
    expect(all).toHaveLength(366 * 6);
    for (const b of all) expect(b.closeTime + 1 - b.openTime).toBe(4 * HOUR_MS);
  });
});

describe('createSessionCalendar with irregular hours', () => {
  it('makes 9, 8 and 7 hour sessions from [0, 9, 17] in UTC', () => {
    expect(sessions(calendar('UTC', [0, 9, 17]), '2024-06-15T00:00:00Z', 4)).toEqual([
      ['2024-06-15T00:00:00.000Z', 9],
      ['2024-06-15T09:00:00.000Z', 8],
      ['2024-06-15T17:00:00.000Z', 7],
      ['2024-06-16T00:00:00.000Z', 9],
    ]);
  });

  it('sorts and dedupes unsorted hours with duplicates', () => {
    const cal = calendar('UTC', [17, 9, 0, 9, 17]);
    expect(cal.hours).toEqual([0, 9, 17]);
    expect(boundaries(cal, 2024, 6, 15)).toEqual(boundaries(calendar('UTC', [0, 9, 17]), 2024, 6, 15));
  });

  it('shortens the 00:00 session to 8 hours on the London spring forward day', () => {
    expect(sessions(calendar('Europe/London', [0, 9, 17]), '2024-03-30T17:00:00Z', 5)).toEqual([
      ['2024-03-30T17:00:00.000Z', 7],
      ['2024-03-31T00:00:00.000Z', 8],
      ['2024-03-31T08:00:00.000Z', 8],
      ['2024-03-31T16:00:00.000Z', 7],
      ['2024-03-31T23:00:00.000Z', 9],
    ]);
  });

  it('lengthens the 00:00 session to 10 hours on the London fall back day', () => {
    expect(sessions(calendar('Europe/London', [0, 9, 17]), '2024-10-26T16:00:00Z', 4)).toEqual([
      ['2024-10-26T16:00:00.000Z', 7],
      ['2024-10-26T23:00:00.000Z', 10],
      ['2024-10-27T09:00:00.000Z', 8],
      ['2024-10-27T17:00:00.000Z', 7],
    ]);
  });
});

describe('createSessionCalendar with a single boundary per day', () => {
  const london = calendar('Europe/London', [0]);

  it('makes day-long sessions, 23 hours on spring forward and 25 on fall back', () => {
    expect(sessions(london, '2024-03-30T12:00:00Z', 3)).toEqual([
      ['2024-03-30T00:00:00.000Z', 24],
      ['2024-03-31T00:00:00.000Z', 23],
      ['2024-03-31T23:00:00.000Z', 24],
    ]);
    expect(sessions(london, '2024-10-26T12:00:00Z', 3)).toEqual([
      ['2024-10-25T23:00:00.000Z', 24],
      ['2024-10-26T23:00:00.000Z', 25],
      ['2024-10-28T00:00:00.000Z', 24],
    ]);
  });

  it('steps back across both DST changes', () => {
    const spring = london.bucketAt(at('2024-03-31T12:00:00Z'));
    expect(london.previous(spring)).toEqual(bucket('2024-03-30T00:00:00Z', '2024-03-31T00:00:00Z'));
    const fall = london.bucketAt(at('2024-10-28T12:00:00Z'));
    expect(london.previous(fall)).toEqual(bucket('2024-10-26T23:00:00Z', '2024-10-28T00:00:00Z'));
  });
});

describe('createSessionCalendar at unusual clock changes', () => {
  it('handles the 30 minute DST shift of Australia/Lord_Howe', () => {
    const cal = calendar('Australia/Lord_Howe', [1, 2, 5]);
    // Fall back 2024-04-07 02:00 +11:00 -> 01:30 +10:30: local 02:00 first shows after the repeat.
    expect(boundaries(cal, 2024, 4, 7)).toEqual([
      '2024-04-06T14:00:00.000Z',
      '2024-04-06T15:30:00.000Z',
      '2024-04-06T18:30:00.000Z',
    ]);
    // Spring forward 2024-10-06 02:00 +10:30 -> 02:30 +11:00: local 02:00 moves to the transition.
    expect(boundaries(cal, 2024, 10, 6)).toEqual([
      '2024-10-05T14:30:00.000Z',
      '2024-10-05T15:30:00.000Z',
      '2024-10-05T18:00:00.000Z',
    ]);
  });

  it('gives a 4.5 and a 3.5 hour session across the Lord Howe changes with default hours', () => {
    const lengths = (iso: string): number[] =>
      sessions(calendar('Australia/Lord_Howe'), iso, 3).map((s) => s[1]);
    expect(lengths('2024-04-06T14:00:00Z')).toEqual([4.5, 4, 4]);
    expect(lengths('2024-10-05T14:30:00Z')).toEqual([3.5, 4, 4]);
  });

  it('never makes an empty session when Samoa skipped 2011-12-30', () => {
    const apia = calendar('Pacific/Apia', [0]);
    // Local 2011-12-30 00:00 never happened; it and 2011-12-31 00:00 both map to the transition.
    expect(boundaries(apia, 2011, 12, 30)).toEqual(['2011-12-30T10:00:00.000Z']);
    expect(boundaries(apia, 2011, 12, 31)).toEqual(['2011-12-30T10:00:00.000Z']);
    expect(sessions(apia, '2011-12-29T12:00:00Z', 3)).toEqual([
      ['2011-12-29T10:00:00.000Z', 24],
      ['2011-12-30T10:00:00.000Z', 24],
      ['2011-12-31T10:00:00.000Z', 24],
    ]);
  });
});

describe('SessionCalendar next and previous', () => {
  const zones = [
    ['UTC', DEFAULT_HOURS],
    ['Europe/London', DEFAULT_HOURS],
    ['America/New_York', DEFAULT_HOURS],
    ['America/New_York', [1, 2, 3]],
    ['Asia/Kathmandu', [0, 9, 17]],
    ['Australia/Lord_Howe', DEFAULT_HOURS],
    ['Europe/London', [0]],
  ] as const;

  for (const [zone, hours] of zones) {
    it(`round-trips and stays contiguous over every session of 2024 in ${zone} with hours [${hours.join(', ')}]`, () => {
      const cal = calendar(zone, hours);
      const all = walk(cal, '2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z');
      expect(all.length).toBeGreaterThan(365 * new Set(hours).size - 3);
      for (const b of all) {
        const after = cal.next(b);
        expect(after.openTime).toBe(b.closeTime + 1);
        expect(b.closeTime).toBeGreaterThan(b.openTime);
        expect(cal.previous(after)).toEqual(b);
        expect(cal.next(cal.previous(b))).toEqual(b);
        expect(cal.bucketAt(b.openTime)).toEqual(b);
        expect(cal.bucketAt(b.closeTime)).toEqual(b);
      }
    });
  }

  it('steps from the open time of a bucket, ignoring its close time', () => {
    const utc = calendar('UTC');
    const open = at('2024-06-15T09:00:00Z');
    expect(utc.next({ openTime: open, closeTime: 0 })).toEqual(
      bucket('2024-06-15T13:00:00Z', '2024-06-15T17:00:00Z'),
    );
  });

  it('gives the same boundaries after evicting cached days', () => {
    const cal = calendar('Europe/London', [0, 13]);
    const first = boundaries(cal, 2000, 1, 1);
    for (let i = 1; i <= MAX_CACHED_DAYS + 10; i++) {
      const day = new Date(Date.UTC(2000, 0, 1) + i * 24 * HOUR_MS);
      cal.boundariesOfLocalDate(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate());
    }
    expect(boundaries(cal, 2000, 1, 1)).toEqual(first);
    expect(first).toEqual(['2000-01-01T00:00:00.000Z', '2000-01-01T13:00:00.000Z']);
  });
});

describe('SessionCalendar properties', () => {
  it('keeps the time zone name as given', () => {
    expect(calendar('Asia/Kathmandu').timeZone).toBe('Asia/Kathmandu');
  });

  it('exposes normalized hours that cannot be changed', () => {
    const cal = calendar('UTC', [21, 1]);
    expect(cal.hours).toEqual([1, 21]);
    expect(Object.isFrozen(cal.hours)).toBe(true);
  });

  it('returns boundaries the caller may change without affecting the calendar', () => {
    const cal = calendar('UTC');
    cal.boundariesOfLocalDate(2024, 6, 15).length = 0;
    expect(cal.boundariesOfLocalDate(2024, 6, 15)).toHaveLength(6);
  });
});

describe('createSessionCalendar input validation', () => {
  const badHours: [string, number[]][] = [
    ['an empty list', []],
    ['24', [1, 24]],
    ['-1', [-1, 5]],
    ['1.5', [1.5]],
    ['NaN', [Number.NaN]],
  ];
  for (const [name, hours] of badHours) {
    it(`rejects hours containing ${name} with a ValidationError`, () => {
      expect(() => createSessionCalendar({ hours, timeZone: 'UTC' })).toThrow(ValidationError);
    });
  }

  it('rejects an unknown time zone with a ValidationError', () => {
    expect(() => calendar('Mars/Olympus')).toThrow(ValidationError);
    expect(() => calendar('')).toThrow(ValidationError);
  });

  it('rejects a date that is not on the calendar', () => {
    const cal = calendar('UTC');
    expect(() => cal.boundariesOfLocalDate(2024, 2, 30)).toThrow(ValidationError);
    expect(() => cal.boundariesOfLocalDate(2024, 13, 1)).toThrow(ValidationError);
    expect(() => cal.boundariesOfLocalDate(2024, 1.5, 1)).toThrow(ValidationError);
  });

  it('rejects a time that is not a finite number', () => {
    expect(() => calendar('UTC').bucketAt(Number.NaN)).toThrow(ValidationError);
  });
});

describe('isValidTimeZone', () => {
  it('accepts IANA zone names', () => {
    for (const name of [
      'UTC',
      'Europe/London',
      'America/New_York',
      'Asia/Kathmandu',
      'Australia/Lord_Howe',
    ]) {
      expect(isValidTimeZone(name)).toBe(true);
    }
  });

  it('rejects unknown and empty names', () => {
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
    expect(isValidTimeZone('Not a zone')).toBe(false);
  });
});
