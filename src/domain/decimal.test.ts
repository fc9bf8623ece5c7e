import { describe, expect, it } from 'vitest';
import {
  addDecimal,
  canonicalDecimal,
  compareDecimal,
  formatDecimal,
  isDecimalString,
  MAX_DECIMAL_LENGTH,
  MAX_INPUT_DECIMAL_DIGITS,
  maxDecimal,
  minDecimal,
  parseDecimal,
  percentOf,
  subtractDecimal,
  sumDecimals,
} from './decimal.js';
import { ValidationError } from './errors.js';

describe('exact decimals', () => {
  it('parses Binance decimal strings without losing a digit', () => {
    expect(parseDecimal('0.01634790')).toEqual({ units: 1634790n, scale: 8 });
    expect(parseDecimal('148976.11427815')).toEqual({ units: 14897611427815n, scale: 8 });
    expect(parseDecimal('-1.5')).toEqual({ units: -15n, scale: 1 });
    expect(parseDecimal('42')).toEqual({ units: 42n, scale: 0 });
  });

  it('rejects anything that is not a plain decimal', () => {
    for (const bad of ['', '1e5', '1.', '.5', '+1', ' 1', '1,5', 'NaN', 'Infinity', '0x10', '1.2.3', '-']) {
      expect(() => parseDecimal(bad), bad).toThrow(ValidationError);
      expect(isDecimalString(bad), bad).toBe(false);
    }
  });

  it('rejects hostile lengths before parsing them', () => {
    const long = '1'.repeat(MAX_DECIMAL_LENGTH + 1);
    expect(isDecimalString(long)).toBe(false);
    expect(() => parseDecimal(long)).toThrow(ValidationError);
  });

  it('takes at most 24 digits on each side of the point from outside, so stored sums read back', () => {
    const widest = `${'9'.repeat(MAX_INPUT_DECIMAL_DIGITS)}.${'9'.repeat(MAX_INPUT_DECIMAL_DIGITS)}`;
    expect(isDecimalString(widest)).toBe(true);
    expect(isDecimalString(`-${widest}`)).toBe(true);
    expect(isDecimalString(`9${widest}`)).toBe(false);
    expect(isDecimalString(`${widest}9`)).toBe(false);
    // Shorter than MAX_DECIMAL_LENGTH, yet its rollup sums would not be: refused at the door.
    expect(isDecimalString(`1.${'0'.repeat(60)}1`)).toBe(false);
    // A 1d rollup of 1440 of the widest still parses when read back.
    const day = sumDecimals(Array.from({ length: 1440 }, () => widest));
    expect(day.length).toBeLessThanOrEqual(MAX_DECIMAL_LENGTH);
    expect(() => parseDecimal(day)).not.toThrow();
  });

  it('adds where floats would drift', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(formatDecimal(addDecimal(parseDecimal('0.1'), parseDecimal('0.2')))).toBe('0.3');
    const tenths = Array.from({ length: 1000 }, () => '0.1');
    expect(sumDecimals(tenths)).toBe('100');
  });

  it('adds values of different scales and signs', () => {
    expect(formatDecimal(addDecimal(parseDecimal('1.23456789'), parseDecimal('100')))).toBe('101.23456789');
    expect(formatDecimal(addDecimal(parseDecimal('-5.5'), parseDecimal('5.50000000')))).toBe('0');
    expect(formatDecimal(subtractDecimal(parseDecimal('63000.01'), parseDecimal('63100')))).toBe('-99.99');
  });

  it('sums a day of real-size volumes exactly', () => {
    const volumes = Array.from(
      { length: 1440 },
      (_, i) =>
        `${i}.${String(i * 7919)
          .padStart(8, '0')
          .slice(-8)}`,
    );
    const expectedUnits = volumes.reduce((total, v) => total + BigInt(v.replace('.', '')), 0n);
    expect(parseDecimal(sumDecimals(volumes))).toEqual(
      parseDecimal(formatDecimal({ units: expectedUnits, scale: 8 })),
    );
  });

  it('compares across scales', () => {
    expect(compareDecimal(parseDecimal('1.10'), parseDecimal('1.1'))).toBe(0);
    expect(compareDecimal(parseDecimal('1.09999999'), parseDecimal('1.1'))).toBe(-1);
    expect(compareDecimal(parseDecimal('-0.5'), parseDecimal('-0.6'))).toBe(1);
    expect(formatDecimal(maxDecimal(parseDecimal('2'), parseDecimal('10.0')))).toBe('10');
    expect(formatDecimal(minDecimal(parseDecimal('2'), parseDecimal('10.0')))).toBe('2');
  });

  it('formats canonically: no trailing zeros, no negative zero', () => {
    expect(canonicalDecimal('64628.01000000')).toBe('64628.01');
    expect(canonicalDecimal('29470.0')).toBe('29470');
    expect(canonicalDecimal('0.00000000')).toBe('0');
    expect(canonicalDecimal('-0.000')).toBe('0');
    expect(canonicalDecimal('0.00000001')).toBe('0.00000001');
    expect(canonicalDecimal('-0.0500')).toBe('-0.05');
    expect(canonicalDecimal('007.50')).toBe('7.5');
  });

  it('gives the number parseFloat gives for its exact text', () => {
    for (const text of ['0.01634790', '148976.11427815', '337730077.5570941', '185675832.60984153']) {
      expect(Number.parseFloat(canonicalDecimal(text))).toBe(Number.parseFloat(text));
    }
  });

  it('computes a percentage exactly, rounding halves away from zero alike for a rise and a fall', () => {
    const change = (from: string, to: string) =>
      percentOf(subtractDecimal(parseDecimal(to), parseDecimal(from)), parseDecimal(from), 3);
    // Exact ties, which floats put on either side of the half.
    expect(change('8', '8.001')).toBe(0.013);
    expect(change('8', '7.999')).toBe(-0.013);
    expect(change('81.242', '80.64365267')).toBe(-0.737);
    expect(change('41.735', '42.307812875')).toBe(1.373);
    expect(change('20.188', '20.34920118')).toBe(0.799);
    expect(change('63000.3', '63100.1')).toBe(0.158);
    // A change too small to show is 0, never -0; no open gives 0.
    expect(Object.is(change('1000000', '999999.99999'), 0)).toBe(true);
    expect(change('0', '5')).toBe(0);
    expect(change('-4', '-2')).toBe(-50);
  });
});
