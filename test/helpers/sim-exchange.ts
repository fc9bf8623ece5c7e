/**
 * REST and frame helpers for simulated-exchange tests: plain `fetch` against its REST URL, and
 * readers for combined-stream kline frames.
 */
import { expect } from 'vitest';
import type { Candle } from '../../src/domain/candle.js';
import { canonicalDecimal } from '../../src/domain/decimal.js';
import type { KlineRow, SimulatedExchange } from '../../src/binance/simulator/index.js';
import { field, type ReceivedFrame } from './sim-client.js';

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

export async function get(ex: SimulatedExchange, path: string): Promise<Reply> {
  const response = await fetch(`${ex.restUrl}${path}`);
  return { status: response.status, headers: response.headers, body: await response.json() };
}

export async function klines(ex: SimulatedExchange, query: string): Promise<KlineRow[]> {
  const reply = await get(ex, `/api/v3/klines?${query}`);
  expect(reply.status).toBe(200);
  return reply.body as KlineRow[];
}

export const openTimes = (rows: readonly KlineRow[]): number[] => rows.map((row) => row[0]);
export const isKlineFrame = (f: ReceivedFrame): boolean => field(f.json, 'data', 'e') === 'kline';
export const isClosingFrame = (f: ReceivedFrame): boolean =>
  isKlineFrame(f) && field(f.json, 'data', 'k', 'x') === true;
export const eventTime = (f: ReceivedFrame): number => Number(field(f.json, 'data', 'E'));
export const klineStart = (f: ReceivedFrame): number => Number(field(f.json, 'data', 'k', 't'));

export function rowToCandle(symbol: string, interval: string, row: KlineRow): Candle {
  return {
    symbol,
    interval,
    openTime: row[0],
    closeTime: row[6],
    open: canonicalDecimal(row[1]),
    high: canonicalDecimal(row[2]),
    low: canonicalDecimal(row[3]),
    close: canonicalDecimal(row[4]),
    volume: canonicalDecimal(row[5]),
    quoteVolume: canonicalDecimal(row[7]),
    trades: row[8],
    takerBuyVolume: canonicalDecimal(row[9]),
    takerBuyQuoteVolume: canonicalDecimal(row[10]),
    closed: true,
  };
}
