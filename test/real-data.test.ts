/**
 * Real-data acceptance (issue 2, item 4): candles aggregated from Binance's own 1m and 1h klines
 * equal Binance's own 4h and 1d candles, field by field.
 */
import { describe, expect, it } from 'vitest';
import { aggregateCandles, type Candle } from '../src/domain/candle.js';
import { createFixedGrid, intervalMs, type StandardInterval } from '../src/domain/intervals.js';
import {
  expectBinanceEqual,
  HAS_SHARED_FIXTURES,
  readKlineCsv,
  SKIPPED_WITHOUT_FIXTURES,
} from './helpers/fixtures.js';

const aggregate = (candles: Candle[], interval: StandardInterval) => {
  const grid = createFixedGrid(intervalMs(interval));
  return aggregateCandles(candles, { interval, bucketAt: (t) => grid.bucketAt(t) });
};

function reference(file: string, interval: StandardInterval, from: number, to: number): Candle[] {
  return readKlineCsv(`klines/ronaldlu66/${file}`, 'BTCUSDT', interval).filter(
    (candle) => candle.openTime >= from && candle.openTime <= to,
  );
}

describe.skipIf(!HAS_SHARED_FIXTURES)(
  `aggregation against Binance's own candles${SKIPPED_WITHOUT_FIXTURES}`,
  () => {
    it('turns the 1440 1m klines of 2024-09-21 into Binance’s six 4h candles and its 1d candle', () => {
      const minutes = readKlineCsv('klines/alpaca-bot/BTCUSDT-1m-2024-09-21.csv', 'BTCUSDT', '1m');
      expect(minutes).toHaveLength(1440);
      const day = Date.parse('2024-09-21T00:00:00Z');
      const fourHours = aggregate(minutes, '4h');
      expect(fourHours).toHaveLength(6);
      expectBinanceEqual(fourHours, reference('BTCUSDT_4h.csv', '4h', day, day + 86_399_999), 240);
      const days = aggregate(minutes, '1d');
      expectBinanceEqual(days, reference('BTCUSDT_1d.csv', '1d', day, day), 1440);
    });

    it('turns the 744 1h klines of 2024-08 into Binance’s 186 4h candles and 31 1d candles', () => {
      const hours = readKlineCsv('klines/alpaca-bot/BTCUSDT-1h-2024-08.csv', 'BTCUSDT', '1h');
      expect(hours).toHaveLength(744);
      const from = Date.parse('2024-08-01T00:00:00Z');
      const to = Date.parse('2024-08-31T23:59:59.999Z');
      const fourHours = aggregate(hours, '4h');
      expect(fourHours).toHaveLength(186);
      expectBinanceEqual(fourHours, reference('BTCUSDT_4h.csv', '4h', from, to), 4);
      const days = aggregate(hours, '1d');
      expect(days).toHaveLength(31);
      expectBinanceEqual(days, reference('BTCUSDT_1d.csv', '1d', from, to), 24);
    });
  },
);
