/**
 * Issue 2 item 7 end to end: kline files imported through `importFiles` are what the read API
 * aggregates, with Binance's own candles (../shared) or the synthetic market's truth as reference.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { importFiles } from '../src/cli/import-files.js';
import type { Candle } from '../src/domain/candle.js';
import { HOUR_MS } from '../src/domain/intervals.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import {
  expectBinanceEqual,
  fixturePath,
  HAS_SHARED_FIXTURES,
  readKlineCsv,
  SKIPPED_WITHOUT_FIXTURES,
} from './helpers/fixtures.js';
import { createSyntheticMarket } from './helpers/synthetic-market.js';

type CandleJson = Omit<
  Candle,
  'open' | 'high' | 'low' | 'close' | 'volume' | 'quoteVolume' | 'takerBuyVolume' | 'takerBuyQuoteVolume'
> &
  Record<
    'open' | 'high' | 'low' | 'close' | 'volume' | 'quoteVolume' | 'takerBuyVolume' | 'takerBuyQuoteVolume',
    number
  >;

const DAY = Date.parse('2024-09-21T00:00:00Z');
const SESSION_OPENS = [1, 5, 9, 13, 17, 21].map((hour) => DAY + hour * HOUR_MS);

/** A candle as the API writes it, back to decimal text for comparison (numbers print exactly as parsed). */
const asCandle = (json: CandleJson): Candle => ({
  ...json,
  open: String(json.open),
  high: String(json.high),
  low: String(json.low),
  close: String(json.close),
  volume: String(json.volume),
  quoteVolume: String(json.quoteVolume),
  takerBuyVolume: String(json.takerBuyVolume),
  takerBuyQuoteVolume: String(json.takerBuyQuoteVolume),
});

describe('imported files through the read API', () => {
  const dir = mkdtempSync(join(tmpdir(), 'import-api-'));
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.app.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const getCandles = async (url: string): Promise<CandleJson[]> => {
    const response = await t!.app.inject({ method: 'GET', url });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ data: CandleJson[] }>().data;
  };

  it.skipIf(!HAS_SHARED_FIXTURES)(
    `answers Binance's six 4h candles and the day's sessions after importing the alpaca-bot 1m file${SKIPPED_WITHOUT_FIXTURES}`,
    async () => {
      t = await createTestApp();
      const [result] = await importFiles([fixturePath('klines/alpaca-bot/BTCUSDT-1m-2024-09-21.csv')], {
        store: t.store,
      });
      expect(result).toMatchObject({ rows: 1440, symbol: 'BTCUSDT' });
      expect(result?.error).toBeUndefined();

      const to = DAY + 86_400_000 - 1;
      const fourHours = await getCandles(
        `/api/v1/price-data/BTCUSDT/aggregated?interval=4h&from=${DAY}&to=${to}`,
      );
      const binance = readKlineCsv('klines/ronaldlu66/BTCUSDT_4h.csv', 'BTCUSDT', '4h').filter(
        (candle) => candle.openTime >= DAY && candle.openTime <= to,
      );
      expect(fourHours).toHaveLength(6);
      expectBinanceEqual(fourHours.map(asCandle), binance, 240);

      const sessions = await getCandles(`/api/v1/price-data/BTCUSDT/intervals?from=${DAY}&to=${to}`);
      expect(sessions.map((candle) => candle.openTime)).toEqual(SESSION_OPENS);
      const minutes = readKlineCsv('klines/alpaca-bot/BTCUSDT-1m-2024-09-21.csv', 'BTCUSDT', '1m');
      for (const session of sessions) {
        const inside = minutes.filter(
          (m) => m.openTime >= session.openTime && m.openTime <= session.closeTime,
        );
        expect(session.open).toBe(Number.parseFloat(inside[0]!.open));
        expect(session.close).toBe(Number.parseFloat(inside.at(-1)!.close));
        expect(session.trades).toBe(inside.reduce((sum, m) => sum + m.trades, 0));
      }
    },
  );

  it('answers the exact 4h candles and sessions of a generated file after importing it', async () => {
    const market = createSyntheticMarket({ symbol: 'SYNUSDT', start: DAY, minutes: 1440, seed: 21 });
    const rows = market.candles1m.map((c) =>
      [
        c.openTime,
        c.open,
        c.high,
        c.low,
        c.close,
        c.volume,
        c.closeTime,
        c.quoteVolume,
        c.trades,
        c.takerBuyVolume,
        c.takerBuyQuoteVolume,
        0,
      ].join(','),
    );
    const file = join(dir, 'SYNUSDT-1m-2024-09-21.csv');
    writeFileSync(file, `${rows.join('\n')}\n`);
    t = await createTestApp();
    const [result] = await importFiles([file], { store: t.store });
    expect(result?.rows).toBe(1440);

    const fourHours = await getCandles(`/api/v1/price-data/SYNUSDT/aggregated?interval=4h&from=${DAY}`);
    expect(fourHours.map(asCandle)).toEqual(
      [0, 4, 8, 12, 16, 20].map((h) => {
        const truth = market.truth(DAY + h * HOUR_MS, DAY + (h + 4) * HOUR_MS - 1, '4h')!;
        return asCandle({ ...truth, ...numbers(truth) });
      }),
    );
    const sessions = await getCandles(`/api/v1/price-data/SYNUSDT/intervals?from=${DAY}`);
    expect(sessions.map((c) => c.openTime)).toEqual(SESSION_OPENS);
    for (const session of sessions) {
      const truth = market.truth(session.openTime, session.closeTime, 'session')!;
      expect(asCandle(session)).toEqual(asCandle({ ...truth, ...numbers(truth) }));
    }
  });
});

function numbers(candle: Candle) {
  return {
    open: Number.parseFloat(candle.open),
    high: Number.parseFloat(candle.high),
    low: Number.parseFloat(candle.low),
    close: Number.parseFloat(candle.close),
    volume: Number.parseFloat(candle.volume),
    quoteVolume: Number.parseFloat(candle.quoteVolume),
    takerBuyVolume: Number.parseFloat(candle.takerBuyVolume),
    takerBuyQuoteVolume: Number.parseFloat(candle.takerBuyQuoteVolume),
  };
}
