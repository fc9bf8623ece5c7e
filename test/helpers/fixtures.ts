/**
 * ../shared/fixtures, when the clone has it beside the project. Tests that need it skip with a
 * name that says why when it is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Candle } from '../../src/domain/candle.js';
import { canonicalDecimal } from '../../src/domain/decimal.js';

export const SHARED_FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
export const HAS_SHARED_FIXTURES = existsSync(SHARED_FIXTURES);
export const SKIPPED_WITHOUT_FIXTURES = HAS_SHARED_FIXTURES ? '' : ' [skipped: ../shared/fixtures is absent]';

export function fixturePath(relative: string): string {
  return `${SHARED_FIXTURES}${relative}`;
}

/**
 * Reads a Binance kline CSV (data.binance.vision rows, or ronaldlu66's files with a header) into
 * candles with canonical decimal text. Test-only reader; the product's parser is src/binance/.
 */
export function readKlineCsv(relative: string, symbol: string, interval: string): Candle[] {
  const lines = readFileSync(fixturePath(relative), 'utf8')
    .split(/\r?\n/)
    .filter((line) => /^\d/.test(line));
  return lines.map((line) => {
    const f = line.split(',');
    const time = (value: string) =>
      Number(value) >= 1e15 ? Math.floor(Number(value) / 1000) : Number(value);
    return {
      symbol,
      interval,
      openTime: time(f[0]!),
      closeTime: time(f[6]!),
      open: canonicalDecimal(f[1]!),
      high: canonicalDecimal(f[2]!),
      low: canonicalDecimal(f[3]!),
      close: canonicalDecimal(f[4]!),
      volume: canonicalDecimal(f[5]!),
      quoteVolume: canonicalDecimal(f[7]!),
      trades: Number(f[8]),
      takerBuyVolume: canonicalDecimal(f[9]!),
      takerBuyQuoteVolume: canonicalDecimal(f[10]!),
      closed: true,
    };
  });
}

/**
 * Binance writes every candle's quote volumes rounded to 8 decimals from its own trades, so the exact
 * sum of N rounded 1m values can differ from its published 4h value in the last digits (seen here:
 * 244802615.78455930 summed vs 244802615.78455928 published for the 1d of 2024-09-21), and
 * ronaldlu66 stored its numbers through doubles (537569353.788524). So every other field must be
 * equal, and quote volumes must agree within the rounding of the N summed candles (N × 1e-8) plus
 * one double's spacing.
 */
const QUOTE_FIELDS = ['quoteVolume', 'takerBuyQuoteVolume'] as const;

export function expectBinanceEqual(ours: Candle[], theirs: Candle[], candlesPerBucket: number): void {
  const strip = (candle: Candle) => ({ ...candle, quoteVolume: '', takerBuyQuoteVolume: '' });
  expect(ours.map(strip)).toEqual(theirs.map(strip));
  ours.forEach((candle, i) => {
    for (const field of QUOTE_FIELDS) {
      const mine = Number.parseFloat(candle[field]);
      const published = Number.parseFloat(theirs[i]![field]);
      const tolerance = candlesPerBucket * 1e-8 + Math.abs(published) * Number.EPSILON;
      expect(Math.abs(mine - published), `${field} of ${candle.openTime}`).toBeLessThanOrEqual(tolerance);
    }
  });
}
