/** Checks on a running service process shared by the process-level tests. */
import { expect } from 'vitest';
import type { Store } from '../../src/ports/store.js';
import { toCandle, type SimulatedExchange } from '../../src/binance/simulator/index.js';
import { MINUTE_MS } from '../../src/domain/intervals.js';

export { readStatus, waitForIngestion, waitUntil, type ServiceStatus } from './service-status.js';

/** Every closed 1m candle the exchange made in [from, last] is stored, equal field by field. */
export async function expectEveryCandleStored(
  store: Pick<Store, 'listCandles'>,
  exchange: SimulatedExchange,
  symbols: readonly string[],
  from: number,
  last: number,
): Promise<void> {
  for (const symbol of symbols) {
    const stored = await store.listCandles({ symbol, resolution: '1m', from, to: last });
    const expected = [];
    for (let openTime = from; openTime <= last; openTime += MINUTE_MS) {
      const kline = exchange.market.trueKline(symbol, openTime);
      if (kline) expected.push(toCandle(kline, true));
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(stored, symbol).toEqual(expected);
  }
}
