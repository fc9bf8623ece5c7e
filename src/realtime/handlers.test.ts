/**
 * The subscribe handler's bookkeeping on a real SQLite store, with the history read made to fail (a
 * store or cache error mid-subscribe, which no real part here can be made to do on cue) or made
 * older than the live price (a history shared from earlier in the second); and unsubscribe.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSyntheticMarket } from '../../test/helpers/synthetic-market.js';
import { MemoryCache } from '../adapters/memory/cache.js';
import { SqliteStore } from '../adapters/sqlite/store.js';
import { UnavailableError } from '../domain/errors.js';
import { HOUR_MS, MINUTE_MS } from '../domain/intervals.js';
import { createSessionCalendar } from '../domain/session-calendar.js';
import { createCandleReader } from '../market/candles.js';
import { createLiveState } from '../market/live-state.js';
import { createPriceReader } from '../market/prices.js';
import { NotFoundError } from '../domain/errors.js';
import type { HistoricalData } from './events.js';
import { createHandlers, type ClientSession } from './handlers.js';

const NOW = Date.parse('2026-01-01T02:00:00Z');
const now = () => NOW;

function clientSession() {
  const emitted: string[] = [];
  const joined: string[] = [];
  /** Emits and joins in their order, each emit with its payload. */
  const log: unknown[] = [];
  const client: ClientSession = {
    subscriptions: new Set(),
    subscribing: new Map(),
    emit: (event, ...payload) => {
      emitted.push(event);
      log.push([event, ...payload]);
    },
    join: (symbol) => {
      joined.push(symbol);
      log.push(['join', symbol]);
    },
    leave: () => undefined,
  };
  return { client, emitted, joined, log };
}

/** A live quote of BTCUSDT at `timestamp` (as heard from the exchange or the bus). */
const quote = (timestamp: number, price: string) => ({
  symbol: 'BTCUSDT',
  price,
  timestamp,
  open24h: '100',
  high24h: '120',
  low24h: '90',
  volume24h: '5',
  quoteVolume24h: '500',
});

describe('subscribe handler', () => {
  let store: SqliteStore | undefined;
  afterEach(() => store?.close());

  async function handlers(
    history: (symbol: string) => Promise<HistoricalData>,
    live = createLiveState(),
    updatePending?: (symbol: string) => boolean,
  ) {
    store = new SqliteStore({ path: ':memory:', now });
    await store.insertSymbolsIfMissing([
      { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
    ]);
    const calendar = createSessionCalendar({ hours: [1, 5, 9, 13, 17, 21], timeZone: 'UTC' });
    return createHandlers({
      store,
      prices: createPriceReader({ store, now, live }),
      candles: createCandleReader({ store, calendar, now }),
      now,
      history,
      updatePending,
    });
  }

  it('keeps no subscription when its history cannot be read, so the failed ack leaves nothing behind', async () => {
    const h = await handlers(() => Promise.reject(new UnavailableError('store unreachable')));
    const { client, emitted, joined } = clientSession();
    await expect(h.subscribe(client, { symbol: 'BTCUSDT' })).rejects.toThrow('store unreachable');
    expect(emitted).toEqual([]); // never confirmed
    expect([...client.subscriptions]).toEqual([]);
    expect([...client.subscribing]).toEqual([]);
    expect(joined).toEqual([]);
  });

  it('leaves a confirmed subscription standing when a repeated subscribe fails to read its history', async () => {
    let fail = false;
    const h = await handlers((symbol) =>
      fail
        ? Promise.reject(new UnavailableError('store unreachable'))
        : Promise.resolve({ symbol, data: [] }),
    );
    const session = clientSession();
    const left: string[] = [];
    const client: ClientSession = { ...session.client, leave: (symbol) => void left.push(symbol) };
    await h.subscribe(client, { symbol: 'BTCUSDT' });
    fail = true;
    await expect(h.subscribe(client, { symbol: 'BTCUSDT' })).rejects.toThrow('store unreachable');
    expect([...client.subscriptions]).toEqual(['BTCUSDT']);
    expect(session.joined).toEqual(['BTCUSDT']);
    expect(left).toEqual([]);
  });

  it('stops a subscribe that an unsubscribe sent right after it overtook, and forgets both once done', async () => {
    const h = await handlers((symbol) => Promise.resolve({ symbol, data: [] }));
    const { client, emitted, joined } = clientSession();
    // Back to back: the subscribe is still checking the symbol when the unsubscribe runs.
    const subscribing = h.subscribe(client, { symbol: 'BTCUSDT' });
    await h.unsubscribe(client, { symbol: 'BTCUSDT' });
    expect(await subscribing).toEqual({ symbol: 'BTCUSDT' });
    expect(emitted).toEqual([]);
    expect(joined).toEqual([]);
    expect([...client.subscriptions]).toEqual([]);
    expect([...client.subscribing]).toEqual([]);
  });

  it('confirms a subscription with its history, then joins its room', async () => {
    const h = await handlers((symbol) => Promise.resolve({ symbol, data: [] }));
    const { client, emitted, joined } = clientSession();
    await h.subscribe(client, { symbol: 'BTCUSDT' });
    expect(emitted).toEqual(['subscription_confirmed', 'historical_data']);
    expect(joined).toEqual(['BTCUSDT']);
    expect([...client.subscriptions]).toEqual(['BTCUSDT']);
  });

  it('follows a history that lacks the newest price with that price, once in the room', async () => {
    // The history was built earlier in the second (shared by that second's subscribers); an update
    // broadcast since then went to the room before this client joined it.
    const live = createLiveState();
    live.applyQuotes([quote(NOW - 1000, '101.5')], NOW);
    const history = { symbol: 'BTCUSDT', data: [{ timestamp: NOW - 2000, price: 101 }] };
    const h = await handlers(() => Promise.resolve(history), live);
    const { client, log } = clientSession();
    await h.subscribe(client, { symbol: 'BTCUSDT' });
    expect(log).toEqual([
      ['subscription_confirmed', { symbol: 'BTCUSDT' }],
      ['historical_data', history],
      ['join', 'BTCUSDT'],
      ['price_update', expect.objectContaining({ symbol: 'BTCUSDT', price: 101.5, timestamp: NOW - 1000 })],
    ]);
  });

  it('leaves the newest price to an update already on its way to the room, so the client gets it once', async () => {
    const live = createLiveState();
    live.applyQuotes([quote(NOW - 1000, '101.5')], NOW);
    const history = { symbol: 'BTCUSDT', data: [{ timestamp: NOW - 2000, price: 101 }] };
    const h = await handlers(
      () => Promise.resolve(history),
      live,
      (symbol) => symbol === 'BTCUSDT',
    );
    const { client, emitted, joined } = clientSession();
    await h.subscribe(client, { symbol: 'BTCUSDT' });
    expect(emitted).toEqual(['subscription_confirmed', 'historical_data']);
    expect(joined).toEqual(['BTCUSDT']);
    // A client that updates skip (its writes backed up) would get neither: it gets the catch-up.
    const slow = clientSession();
    await h.subscribe({ ...slow.client, receivesUpdates: () => false }, { symbol: 'BTCUSDT' });
    expect(slow.emitted).toEqual(['subscription_confirmed', 'historical_data', 'price_update']);
  });

  it('sends no extra update when the history already ends at the newest price', async () => {
    const live = createLiveState();
    live.applyQuotes([quote(NOW - 1000, '101.5')], NOW);
    const history = { symbol: 'BTCUSDT', data: [{ timestamp: NOW - 1000, price: 101.5 }] };
    const h = await handlers(() => Promise.resolve(history), live);
    const { client, emitted } = clientSession();
    await h.subscribe(client, { symbol: 'BTCUSDT' });
    expect(emitted).toEqual(['subscription_confirmed', 'historical_data']);
  });

  it('refuses to unsubscribe from a symbol it does not know, and takes one known but not held', async () => {
    const h = await handlers((symbol) => Promise.resolve({ symbol, data: [] }));
    const { client } = clientSession();
    await expect(h.unsubscribe(client, { symbol: 'NOPEUSDT' })).rejects.toThrow(NotFoundError);
    expect(await h.unsubscribe(client, { symbol: 'BTCUSDT' })).toEqual({ symbol: 'BTCUSDT' });
  });

  it('takes get_all_symbols with a null payload, as a client emitting undefined sends it', async () => {
    const h = await handlers(() => Promise.resolve({ symbol: '', data: [] }));
    expect(await h.getAllSymbols(clientSession().client, null)).toEqual({ symbols: ['BTCUSDT'] });
  });
});

describe('the push of a closed session', () => {
  const boundary = Date.parse('2026-01-01T05:00:00Z');
  const opened = Date.parse('2026-01-01T01:00:00Z');
  const store = new SqliteStore({ path: ':memory:', now: () => boundary + 2000 });
  afterAll(() => store.close());
  const calendar = createSessionCalendar({ hours: [1, 5, 9, 13, 17, 21], timeZone: 'UTC' });
  const handlers = createHandlers({
    store,
    prices: createPriceReader({ store, now: () => boundary + 2000 }),
    candles: createCandleReader({ store, calendar, now: () => boundary + 2000 }),
    now: () => boundary + 2000,
    history: () => Promise.reject(new Error('not read here')),
  });

  it('waits until the new session has begun, since it pushes the closed session and the new one', async () => {
    // Every minute of the 01:00 session stored and closed, and history from before it.
    const market = createSyntheticMarket({
      symbol: 'BTCUSDT',
      start: opened - HOUR_MS,
      minutes: 300,
      seed: 2,
    });
    await store.upsertCandles(market.candles1m);
    const early = await handlers.closedSession('BTCUSDT', opened);
    expect(early.ready).toBe(false);
    expect(early.data.intervals.map((session) => session.openTime)).toEqual([opened]);
    // The new session's first kline, still forming, is stored a moment later.
    const first = { ...market.candles1m.at(-1)!, openTime: boundary, closeTime: boundary + MINUTE_MS - 1 };
    await store.upsertCandles([{ ...first, closed: false, eventTime: boundary + 1500 }]);
    const later = await handlers.closedSession('BTCUSDT', opened);
    expect(later.ready).toBe(true);
    expect(later.data.intervals).toMatchObject([
      { openTime: opened, closeTime: boundary - 1, closed: true },
      { openTime: boundary, closed: false },
    ]);
  });
});

describe('the push of a closed session, after the calendar changed', () => {
  it('reads the session again rather than push a cached one of other hours opening at the same time', async () => {
    const opened = Date.parse('2026-01-01T01:00:00Z');
    const now = () => Date.parse('2026-01-01T09:00:02Z');
    const store = new SqliteStore({ path: ':memory:', now });
    try {
      const market = createSyntheticMarket({
        symbol: 'BTCUSDT',
        start: opened,
        minutes: 8 * 60 + 1,
        seed: 3,
      });
      await store.upsertCandles(market.candles1m);
      const sessions = new MemoryCache({ now });
      const reader = (hours: number[]) =>
        createCandleReader({ store, calendar: createSessionCalendar({ hours, timeZone: 'UTC' }), now });
      // An instance with 4-hour sessions shared the 01:00–05:00 session when it closed.
      const [fourHours] = await reader([1, 5, 9, 13, 17, 21]).read({
        symbol: 'BTCUSDT',
        interval: 'session',
        from: opened,
        limit: 1,
      });
      await sessions.setSessions([{ symbol: 'BTCUSDT', candle: fourHours! }]);
      // Now the hours are 1, 9 and 17: the session opening at 01:00 closes at 09:00.
      const handlers = createHandlers({
        store,
        prices: createPriceReader({ store, now }),
        candles: reader([1, 9, 17]),
        now,
        history: () => Promise.reject(new Error('not read here')),
        sessionCache: sessions,
      });
      const { data } = await handlers.closedSession('BTCUSDT', opened);
      expect(data.intervals[0]).toMatchObject({
        openTime: opened,
        closeTime: Date.parse('2026-01-01T09:00:00Z') - 1,
      });
    } finally {
      await store.close();
    }
  });
});
