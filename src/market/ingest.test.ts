import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../adapters/sqlite/store.js';
import type { MarketEvent, MiniTicker } from '../binance/events.js';
import { createSyntheticMarket } from '../../test/helpers/synthetic-market.js';
import { createIngest } from './ingest.js';
import { createLiveState } from './live-state.js';
import { createWriteBuffer } from './write-buffer.js';

const START = Date.parse('2024-09-21T00:00:00Z');
const market = createSyntheticMarket({ symbol: 'BTCUSDT', start: START, minutes: 10, seed: 8 });

function setup(maxPendingCandles?: number) {
  const store = new SqliteStore({ path: ':memory:' });
  const buffer = createWriteBuffer({ store, logger: pino({ level: 'silent' }), maxPendingCandles });
  const liveState = createLiveState();
  return { store, buffer, liveState, ingest: createIngest({ liveState, buffer }) };
}

const kline = (i: number, closed = true): MarketEvent => ({
  type: 'kline',
  stream: 'btcusdt@kline_1m',
  candle: { ...market.candles1m[i]!, closed },
});
const tickers = (eventTime: number, close: string): MarketEvent => ({
  type: 'miniTickers',
  stream: '!miniTicker@arr',
  tickers: [
    {
      symbol: 'BTCUSDT',
      eventTime,
      close,
      open: '1',
      high: '2',
      low: '0.5',
      volume: '3',
      quoteVolume: '4',
    } satisfies MiniTicker,
  ],
});

describe('ingest', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it('stores every closed candle exactly once whatever duplicates and reordering arrive', async () => {
    const { store, buffer, ingest } = setup();
    close = () => store.close();
    const events = [
      kline(1),
      kline(0, false),
      kline(0),
      kline(2),
      kline(1),
      kline(0, false),
      kline(3),
      kline(2),
    ];
    for (const event of events) ingest.handle(event, START);
    await buffer.flush();
    const stored = await store.listCandles({
      symbol: 'BTCUSDT',
      resolution: '1m',
      from: 0,
      to: Number.MAX_SAFE_INTEGER,
    });
    expect(stored).toEqual(market.candles1m.slice(0, 4).map(({ eventTime: _, ...c }) => c));
    expect(ingest.lastKlineAt('BTCUSDT')).toBe(START);
  });

  it('turns miniTickers into latest quotes and one sample per second, the latest of its second', async () => {
    const { store, buffer, liveState } = setup();
    close = () => store.close();
    const heard: string[] = [];
    const ingest = createIngest({
      liveState,
      buffer,
      onSamples: (samples) => heard.push(...samples.map((sample) => sample.price)),
    });
    // The exchange's pushes drift: two land in one second, the second a moment before its end.
    ingest.handle(tickers(START + 100, '10'), START);
    ingest.handle(tickers(START + 999, '11'), START);
    ingest.handle(tickers(START + 1100, '12'), START);
    await buffer.flush();
    expect(liveState.latest('BTCUSDT')?.price).toBe('12');
    const samples = await store.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' });
    expect(samples).toEqual([
      { symbol: 'BTCUSDT', price: '11', timestamp: START + 999 },
      { symbol: 'BTCUSDT', price: '12', timestamp: START + 1100 },
    ]);
    // The fan-out, the bus and the cache hear the newer price of the second too.
    expect(heard).toEqual(['10', '11', '12']);
    expect(ingest.stats()).toMatchObject({ tickers: 3, samples: 3 });
  });

  it('asks for repair of a candle a full buffer refused', () => {
    const { store, ingest } = setup(2);
    close = () => store.close();
    ingest.handle(kline(0), START);
    ingest.handle(kline(1), START);
    ingest.handle(kline(2), START);
    expect(ingest.takeRepairs()).toEqual([{ symbol: 'BTCUSDT', since: market.candles1m[2]!.openTime }]);
    expect(ingest.takeRepairs()).toEqual([]);
  });

  it('asks for repair of a minute whose closing update never came before the next minute', () => {
    const { store, ingest } = setup();
    close = () => store.close();
    ingest.handle(kline(0, false), START);
    ingest.handle(kline(0), START); // closed: nothing to repair
    ingest.handle(kline(1, false), START);
    ingest.handle(kline(2, false), START); // minute 1 never closed
    ingest.handle(kline(1), START); // a late close for an older minute changes nothing asked for
    expect(ingest.takeRepairs()).toEqual([{ symbol: 'BTCUSDT', since: market.candles1m[1]!.openTime }]);
  });

  it('asks for repair of a minute that came with no frame at all, its only update lost between two others', () => {
    const { store, ingest } = setup();
    close = () => store.close();
    ingest.handle(kline(0), START);
    ingest.handle(kline(1), START); // the next minute: nothing missed
    expect(ingest.takeRepairs()).toEqual([]);
    ingest.handle(kline(3, false), START); // minute 2 never seen
    expect(ingest.takeRepairs()).toEqual([{ symbol: 'BTCUSDT', since: market.candles1m[2]!.openTime }]);
  });
});
