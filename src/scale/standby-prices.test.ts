import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../adapters/memory/bus.js';
import { SqliteStore } from '../adapters/sqlite/store.js';
import { aggregateCandles } from '../domain/candle.js';
import { DAY_MS, MINUTE_MS } from '../domain/intervals.js';
import type { PriceSample } from '../domain/price.js';
import { createLiveState } from '../market/live-state.js';
import { createPriceReader } from '../market/prices.js';
import { createSyntheticMarket } from '../../test/helpers/synthetic-market.js';
import { startStandbyPrices, STANDBY_BUS_SILENCE_MS, type StandbyPricesDeps } from './standby-prices.js';

const START = Date.parse('2024-09-21T00:00:00Z');
/** Two days of 1m candles; the newest sample sits in the last stored minute. */
const MINUTES = 2 * 24 * 60;
const LAST_MINUTE = START + (MINUTES - 1) * MINUTE_MS;
const NEWEST = LAST_MINUTE + 42_000;
const logger = pino({ level: 'silent' });

describe('a standby instance reading prices around its bus', () => {
  const store = new SqliteStore({ path: ':memory:' });
  const prices = createPriceReader({ store, now: () => NEWEST + 500 });
  const market = createSyntheticMarket({ symbol: 'BTCUSDT', start: START, minutes: MINUTES, seed: 4 });

  beforeAll(async () => {
    for (const [symbol, isActive] of [
      ['BTCUSDT', true],
      ['ETHUSDT', true],
      ['XRPUSDT', false],
    ] as const) {
      const [baseAsset] = symbol.split('USDT');
      await store.insertSymbol({
        symbol,
        baseAsset: baseAsset!,
        quoteAsset: 'USDT',
        status: 'TRADING',
        isActive,
      });
    }
    await store.upsertCandles(market.candles1m);
    await store.insertPriceSamples([
      { symbol: 'BTCUSDT', price: '63001.5', timestamp: NEWEST - 1000 },
      { symbol: 'BTCUSDT', price: '63002.25', timestamp: NEWEST },
      { symbol: 'ETHUSDT', price: '2500.1', timestamp: NEWEST - 3000 },
      { symbol: 'XRPUSDT', price: '0.52', timestamp: NEWEST },
    ]);
  });
  afterAll(() => store.close());

  /** A standby on a bus whose health the test sets, with a clock it moves. */
  const standby = (overrides: Partial<StandbyPricesDeps> = {}) => {
    const bus = createMemoryBus(logger);
    const state = { healthy: true, clock: 0 };
    const liveState = createLiveState();
    const handed: PriceSample[][] = [];
    const reader = startStandbyPrices({
      store,
      prices,
      liveState,
      bus: { healthy: () => state.healthy, subscribe: bus.subscribe.bind(bus) },
      ingesting: () => false,
      now: () => NEWEST + 700,
      logger,
      onSamples: (samples) => handed.push([...samples]),
      clock: () => state.clock,
      intervalMs: 60_000, // the test polls by hand
      ...overrides,
    });
    return { bus, state, liveState, handed, reader };
  };

  it('takes each active symbol’s newest stored price, with exact 24 h figures, while the bus is down', async () => {
    const { state, liveState, handed, reader } = standby();
    state.healthy = false;
    expect(await reader.poll()).toBe(2);
    const day = { openTime: LAST_MINUTE - DAY_MS + MINUTE_MS, closeTime: LAST_MINUTE + MINUTE_MS - 1 };
    const rows = market.candles1m.filter((candle) => candle.openTime >= day.openTime);
    const [expected] = aggregateCandles(rows, { interval: '24h', bucketAt: () => day });
    expect(liveState.latest('BTCUSDT')).toMatchObject({
      price: '63002.25',
      timestamp: NEWEST,
      open24h: expected!.open,
      volume24h: expected!.volume,
      quoteVolume24h: expected!.quoteVolume,
      receivedAt: NEWEST + 700,
    });
    expect(liveState.latest('ETHUSDT')).toMatchObject({ price: '2500.1', timestamp: NEWEST - 3000 });
    // An inactive symbol is nobody's to stream.
    expect(liveState.latest('XRPUSDT')).toBeUndefined();
    expect(handed).toEqual([
      [
        { symbol: 'BTCUSDT', price: '63002.25', timestamp: NEWEST },
        { symbol: 'ETHUSDT', price: '2500.1', timestamp: NEWEST - 3000 },
      ],
    ]);
    // Nothing newer stored since: the next read hands nothing on.
    expect(await reader.poll()).toBe(0);
    expect(handed).toHaveLength(1);
    reader.stop();
  });

  it('keeps a quote held from the bus that is newer than the store’s', async () => {
    const { state, liveState, handed, reader } = standby();
    const busQuote = {
      symbol: 'BTCUSDT',
      price: '63010',
      timestamp: NEWEST + 900,
      open24h: '62000',
      high24h: '64000',
      low24h: '61000',
      volume24h: '10',
      quoteVolume24h: '630000',
    };
    liveState.applyQuotes([busQuote], NEWEST + 950);
    state.healthy = false;
    expect(await reader.poll()).toBe(1);
    expect(liveState.latest('BTCUSDT')).toMatchObject(busQuote);
    expect(handed.flat().map((sample) => sample.symbol)).toEqual(['ETHUSDT']);
    reader.stop();
  });

  it('reads nothing while the bus is connected and heard, nor on the ingesting instance', async () => {
    const heard = standby();
    heard.state.clock = STANDBY_BUS_SILENCE_MS;
    expect(await heard.reader.poll()).toBe(0);
    expect(heard.liveState.latest('BTCUSDT')).toBeUndefined();
    heard.reader.stop();

    const ingesting = standby({ ingesting: () => true });
    ingesting.state.healthy = false;
    expect(await ingesting.reader.poll()).toBe(0);
    expect(ingesting.liveState.latest('BTCUSDT')).toBeUndefined();
    ingesting.reader.stop();
  });

  it('stops handing quotes to its clients once the adapter is back before the bus, and not for a frozen Redis', async () => {
    // Redis returning: the adapter's connection is up again, the bus's not yet.
    const returning = standby({ adapterReady: () => true });
    returning.state.healthy = false;
    expect(await returning.reader.poll()).toBe(2);
    expect(returning.liveState.latest('BTCUSDT')?.timestamp).toBe(NEWEST); // /latest still fresh
    expect(returning.handed).toEqual([]); // the ingesting instance's updates reach them again
    returning.reader.stop();
    // A frozen Redis: both connections up, nothing on either.
    const frozen = standby({ adapterReady: () => true });
    frozen.state.clock = STANDBY_BUS_SILENCE_MS + 1;
    expect(await frozen.reader.poll()).toBe(2);
    expect(frozen.handed.flat()).toHaveLength(2);
    frozen.reader.stop();
  });

  it('reads around a connected bus that has carried no quote for a while, until one comes', async () => {
    const { bus, state, liveState, reader } = standby();
    state.clock = STANDBY_BUS_SILENCE_MS + 1; // a frozen Redis: connected, silent
    expect(await reader.poll()).toBe(2);
    expect(liveState.latest('BTCUSDT')?.timestamp).toBe(NEWEST);

    await store.insertPriceSamples([{ symbol: 'BTCUSDT', price: '63003', timestamp: NEWEST + 1000 }]);
    bus.publish('prices', { quotes: [] });
    await new Promise((resolve) => setImmediate(resolve)); // delivered on a later microtask
    expect(await reader.poll()).toBe(0);
    expect(liveState.latest('BTCUSDT')?.timestamp).toBe(NEWEST);
    reader.stop();
  });
});
