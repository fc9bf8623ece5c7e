/**
 * ../shared/fixtures, when the clone has it beside the project. Tests that need it skip with a
 * name that says why when it is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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
