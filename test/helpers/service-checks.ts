/** Checks on a running service process shared by the process-level tests. */
import { expect } from 'vitest';
import { openStore } from '../../src/adapters/create-store.js';
import type { Store } from '../../src/ports/store.js';
import { toCandle, type SimulatedExchange } from '../../src/binance/simulator/index.js';
import { bucketOpenTime, MINUTE_MS } from '../../src/domain/intervals.js';

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

/**
 * How long before the stop signal a minute must have ended for its closing kline to be stored: a
 * minute ending as the service stops may be left forming (the next start repairs it).
 */
export const STOP_SLACK_MS = 2000;

/**
 * After a service ran on `databaseUrl` from `startedAt` until it was told to stop at `stoppedAt`
 * (exchange time) with a backfill lookback of `lookbackMinutes`, every closed 1m candle from its
 * lookback to the last minute that ended STOP_SLACK_MS before the stop is stored. The lookback is
 * counted from the service's own start, a moment after `startedAt`: when a minute boundary falls
 * in between, its oldest minute is one later than `startedAt`'s, so the check starts there.
 */
export async function expectNoCandleMissing(
  databaseUrl: string,
  exchange: SimulatedExchange,
  symbols: readonly string[],
  run: { readonly startedAt: number; readonly stoppedAt: number; readonly lookbackMinutes: number },
): Promise<void> {
  const store = await openStore(databaseUrl);
  try {
    const from = bucketOpenTime(run.startedAt, MINUTE_MS) - (run.lookbackMinutes - 1) * MINUTE_MS;
    const last = bucketOpenTime(run.stoppedAt - STOP_SLACK_MS, MINUTE_MS) - MINUTE_MS;
    await expectEveryCandleStored(store, exchange, symbols, from, last);
  } finally {
    await store.close();
  }
}
