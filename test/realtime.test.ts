/**
 * The Socket.IO contract (SPEC section 6) through the real app on port 0, fed by the live link
 * against the simulated exchange at SPEED (a simulated minute per real second).
 */
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/adapters/memory/cache.js';
import { candleToJson } from '../src/domain/candle.js';
import { generatedSymbolNames } from '../src/binance/simulator/index.js';
import { HOUR_MS, MINUTE_MS } from '../src/domain/intervals.js';
import { splitSymbol } from '../src/domain/symbol.js';
import type { ClientEventName, PriceUpdate } from '../src/realtime/events.js';
import {
  MAX_CLIENT_BACKLOG_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PENDING_PACKETS_PER_CLIENT,
  type RealtimeStatus,
} from '../src/realtime/gateway.js';
import { MAX_SUBSCRIPTIONS_PER_CLIENT } from '../src/realtime/handlers.js';
import { MAX_ERROR_MESSAGE_CHARS } from '../src/realtime/errors.js';
import { MAX_EVENT_BURST, THROTTLE_MS } from '../src/realtime/rate-limit.js';
import {
  ask,
  BROADCAST_INTERVAL_MS,
  collect,
  nextEvent,
  startRealtimeHarness,
  type RealtimeHarness,
} from './helpers/realtime-harness.js';
import { openRawClient } from './helpers/raw-socket-client.js';
import { SHUTDOWN_TIMEOUT_MS } from '../src/process.js';
import { waitUntil } from './helpers/service-checks.js';

/** The gateway's figures as `/system/status` shows them. */
async function realtimeStatus(h: RealtimeHarness): Promise<RealtimeStatus> {
  const response = await h.app.inject({ url: '/api/v1/system/status' });
  return response.json<{ data: { realtime: RealtimeStatus } }>().data.realtime;
}

/** An hour of 1-second samples of `symbol` up to `to`, around `base`: ~160 KB of `historical_data`. */
const hourOfSamples = (symbol: string, to: number, base: number) =>
  Array.from({ length: 3600 }, (_, i) => ({
    symbol,
    price: `${base + (i % 100) / 100}`,
    timestamp: to - (3600 - i) * 1000,
  }));

/** Events with ack ids that a client leaving its replies unread sends past the backlog bound. */
const FLOOD_EVENTS = 5000;
const FLOOD_FIRST_ACK_ID = 1000;

/** Stores `symbols` inactive: clients may subscribe to them, the exchange link leaves them alone. */
const storeInactiveSymbols = (h: RealtimeHarness, symbols: readonly string[]) =>
  h.store.insertSymbolsIfMissing(
    symbols.map((symbol) => ({ symbol, ...splitSymbol(symbol), status: 'TRADING', isActive: false })),
  );

/** The exchange's own ticker at an update's event time, as `!miniTicker@arr` carried it. */
function expectMatchesExchange(h: RealtimeHarness, update: PriceUpdate): void {
  const ticker = h.exchange.market.ticker24h(update.symbol, update.timestamp - 1);
  expect(update.price).toBe(Number.parseFloat(ticker.lastPrice));
  expect(update.high24h).toBe(Number.parseFloat(ticker.highPrice));
  expect(update.low24h).toBe(Number.parseFloat(ticker.lowPrice));
  expect(update.volume24h).toBe(Number.parseFloat(ticker.volume));
}

describe('Socket.IO gateway against the simulated exchange', () => {
  let h: RealtimeHarness;
  beforeAll(async () => {
    // Mid-session, so no session closes during these tests.
    h = await startRealtimeHarness(Date.parse('2026-01-01T02:00:30Z'));
    // Let the link backfill and stream a few minutes so samples and candles exist.
    await sleep(3000);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('confirms a subscription, sends ascending history, then updates equal to the exchange ticker', async () => {
    const client = h.client();
    const confirmed = nextEvent(client, 'subscription_confirmed');
    const history = nextEvent(client, 'historical_data');
    const update = nextEvent(client, 'price_update');
    const ack = await ask(client, 'subscribe', { symbol: 'btcusdt' });
    expect(ack).toEqual({ success: true, data: { symbol: 'BTCUSDT' } });
    expect(await confirmed).toEqual({ symbol: 'BTCUSDT' });
    const { symbol, data } = await history;
    expect(symbol).toBe('BTCUSDT');
    expect(data.length).toBeGreaterThan(10);
    for (let i = 1; i < data.length; i++) expect(data[i]!.timestamp).toBeGreaterThan(data[i - 1]!.timestamp);
    expect(data[0]!.timestamp).toBeGreaterThanOrEqual(h.now() - 60 * MINUTE_MS);
    const first = await update;
    expect(Object.keys(first).sort()).toEqual(
      [
        'change24h',
        'changePercent24h',
        'high24h',
        'low24h',
        'price',
        'symbol',
        'timestamp',
        'volume24h',
      ].sort(),
    );
    expectMatchesExchange(h, first);
    for (const later of await collect(client, 'price_update', 1000)) expectMatchesExchange(h, later);
  });

  it('sends at most one update per symbol per broadcast interval, newest first never repeated', async () => {
    const client = h.client();
    await ask(client, 'subscribe', { symbol: 'ETHUSDT' });
    await ask(client, 'subscribe', { symbol: 'SOLUSDT' });
    const windowMs = 2000;
    const updates = await collect(client, 'price_update', windowMs);
    for (const symbol of ['ETHUSDT', 'SOLUSDT']) {
      const mine = updates.filter((update) => update.symbol === symbol);
      // Samples arrive every ~17 real ms (a simulated second), ~118 in the window; the interval
      // caps what leaves at one per period. The window spans at most windowMs / period + 1
      // periods, plus one whose send event-loop lag on a busy machine pushed into the window.
      expect(mine.length).toBeGreaterThanOrEqual(3);
      expect(mine.length).toBeLessThanOrEqual(windowMs / BROADCAST_INTERVAL_MS + 2);
      for (let i = 1; i < mine.length; i++)
        expect(mine[i]!.timestamp).toBeGreaterThan(mine[i - 1]!.timestamp);
    }
  });

  it('stops sending updates for a symbol after unsubscribe', async () => {
    const client = h.client();
    await ask(client, 'subscribe', { symbol: 'BTCUSDT' });
    await nextEvent(client, 'price_update');
    expect(await ask(client, 'unsubscribe', { symbol: 'BTCUSDT' })).toEqual({
      success: true,
      data: { symbol: 'BTCUSDT' },
    });
    await sleep(BROADCAST_INTERVAL_MS); // an update already on the wire may still land
    expect(await collect(client, 'price_update', 1000)).toEqual([]);
  });

  it('leaves a client unsubscribed when its unsubscribe follows a subscribe still being answered', async () => {
    const client = h.client();
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    // Sent together, as a UI switching symbols does: the unsubscribe is the client's last word.
    const subscribed = ask(client, 'subscribe', { symbol: 'SOLUSDT' });
    const unsubscribed = ask(client, 'unsubscribe', { symbol: 'SOLUSDT' });
    expect(await subscribed).toMatchObject({ success: true });
    expect(await unsubscribed).toMatchObject({ success: true });
    expect(await collect(client, 'price_update', 3 * BROADCAST_INTERVAL_MS + 600)).toEqual([]);
    // Nothing of it counts toward the limit either: the client's only subscription is the next one.
    const status = async () => (await realtimeStatus(h)).subscriptions;
    const before = await status();
    await ask(client, 'subscribe', { symbol: 'SOLUSDT' });
    expect(await status()).toBe(before + 1);
    client.disconnect();
  });

  it('answers every query event with its reply event and an ack carrying the same data', async () => {
    const client = h.client();
    const allSymbols = nextEvent(client, 'all_symbols');
    const symbolsAck = await ask(client, 'get_all_symbols');
    expect(symbolsAck).toEqual({ success: true, data: await allSymbols });
    expect([...(await allSymbols).symbols].sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);

    const multiple = nextEvent(client, 'multiple_prices');
    const pricesAck = await ask(client, 'get_multiple_prices', { symbols: ['BTCUSDT', 'ethusdt'] });
    expect(pricesAck).toEqual({ success: true, data: await multiple });
    const { prices } = await multiple;
    expect(prices.map((price) => price.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    for (const price of prices) {
      const ticker = h.exchange.market.ticker24h(price.symbol, price.timestamp - 1);
      expect(price.price).toBe(Number.parseFloat(ticker.lastPrice));
    }

    const current = nextEvent(client, 'interval_data');
    const currentAck = await ask(client, 'get_interval_data', { symbol: 'BTCUSDT' });
    expect(currentAck).toEqual({ success: true, data: await current });
    const [session] = (await current).intervals;
    expect(session).toMatchObject({ symbol: 'BTCUSDT', interval: 'session', closed: false });
    expect(session!.openTime).toBe(Date.parse('2026-01-01T01:00:00Z'));

    const older = await ask(client, 'get_interval_data', {
      symbol: 'BTCUSDT',
      intervalStart: Date.parse('2026-01-01T01:00:00Z'),
    });
    expect(older.success && older.data.intervals[0]?.openTime).toBe(Date.parse('2026-01-01T01:00:00Z'));

    const recent = nextEvent(client, 'interval_data');
    const recentAck = await ask(client, 'get_recent_intervals', { symbol: 'BTCUSDT', count: 3 });
    expect(recentAck).toEqual({ success: true, data: await recent });
    const openTimes = (await recent).intervals.map((candle) => candle.openTime);
    // The store holds only the link's 20-minute lookback, so the forming 01:00 session is all there is.
    expect(openTimes).toEqual([Date.parse('2026-01-01T01:00:00Z')]);
    const rest = await h.app.inject({ url: '/api/v1/price-data/BTCUSDT/intervals?limit=3' });
    expect(rest.json<{ data: { openTime: number }[] }>().data.map((c) => c.openTime)).toEqual(openTimes);
  });

  it('rejects a malformed payload and an unknown symbol with error events and failed acks, and stays connected', async () => {
    const client = h.client();
    const cases: [ClientEventName, unknown, string][] = [
      ['subscribe', { symbol: 'btc-usdt' }, 'INVALID_PAYLOAD'],
      ['subscribe', { symbol: 'BTCUSDT', extra: 1 }, 'INVALID_PAYLOAD'],
      ['subscribe', 'BTCUSDT', 'INVALID_PAYLOAD'],
      ['get_recent_intervals', { symbol: 'BTCUSDT', count: 101 }, 'INVALID_PAYLOAD'],
      ['get_multiple_prices', { symbols: [] }, 'INVALID_PAYLOAD'],
      ['get_interval_data', { symbol: 'BTCUSDT', intervalStart: 9e15 }, 'INVALID_PAYLOAD'],
      ['subscribe', { symbol: 'NOPEUSDT' }, 'UNKNOWN_SYMBOL'],
      ['get_interval_data', { symbol: 'NOPEUSDT' }, 'UNKNOWN_SYMBOL'],
      ['get_multiple_prices', { symbols: ['BTCUSDT', 'NOPEUSDT'] }, 'UNKNOWN_SYMBOL'],
      ['unsubscribe', { symbol: 'NOPEUSDT' }, 'UNKNOWN_SYMBOL'],
    ];
    for (const [event, payload, code] of cases) {
      const error = nextEvent(client, 'error');
      const ack = await ask(client, event, payload);
      expect(ack.success, `${event} ${JSON.stringify(payload)}`).toBe(false);
      expect(await error).toMatchObject({ code, event, message: ack.success ? '' : ack.message });
    }
    expect(client.connected).toBe(true);
    expect(await ask(client, 'get_all_symbols')).toMatchObject({ success: true });
  });

  it('answers a binary payload, or one of thousands of unknown keys, with a short error', async () => {
    const client = h.client();
    const binary = nextEvent(client, 'error');
    const ack = await ask(client, 'subscribe', new Uint8Array(4000));
    expect(ack).toEqual({
      success: false,
      message: 'invalid payload (payload: binary data is not accepted; send a JSON object)',
    });
    expect(await binary).toMatchObject({ code: 'INVALID_PAYLOAD', event: 'subscribe' });
    const manyKeys = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`k${i}`, 1]));
    const unknown = nextEvent(client, 'error');
    const refused = await ask(client, 'get_all_symbols', manyKeys);
    expect(refused.success).toBe(false);
    const { message } = await unknown;
    expect(message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
    expect(message).toMatch(/^invalid payload \(payload: Unrecognized keys: "k0", "k1"/);
    expect(client.connected).toBe(true);
  });

  it('answers an event SPEC section 6 does not name with UNKNOWN_EVENT and a failed ack, and stays connected', async () => {
    const client = h.client();
    const error = nextEvent(client, 'error');
    const untyped = client as unknown as {
      timeout(ms: number): { emitWithAck(event: string, payload: unknown): Promise<unknown> };
    };
    const ack = await untyped.timeout(5000).emitWithAck('get_everything', {});
    expect(ack).toEqual({ success: false, message: 'unknown event get_everything' });
    expect(await error).toEqual({
      code: 'UNKNOWN_EVENT',
      event: 'get_everything',
      message: 'unknown event get_everything',
    });
    expect(client.connected).toBe(true);
    expect(await ask(client, 'get_all_symbols')).toMatchObject({ success: true });
  });

  it(`takes ${MAX_SUBSCRIPTIONS_PER_CLIENT} subscriptions sent at once and refuses one more with TOO_MANY_SUBSCRIPTIONS`, async () => {
    const extra = Array.from(
      { length: MAX_SUBSCRIPTIONS_PER_CLIENT },
      (_, i) => `X${String(i).padStart(3, '0')}USDT`,
    );
    await storeInactiveSymbols(h, extra);
    const client = h.client();
    // All at once, as a client restoring its watch list after a reconnect: within the burst.
    const acks = await Promise.all(extra.map((symbol) => ask(client, 'subscribe', { symbol })));
    expect(acks.filter((ack) => !ack.success)).toEqual([]);
    const error = nextEvent(client, 'error');
    expect(await ask(client, 'subscribe', { symbol: 'BTCUSDT' })).toMatchObject({ success: false });
    expect(await error).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS', event: 'subscribe' });
    // Re-subscribing to a held symbol is not a new subscription.
    expect(await ask(client, 'subscribe', { symbol: extra[0]! })).toMatchObject({ success: true });
  });

  it('throttles a flooding client with RATE_LIMITED while another client keeps receiving updates', async () => {
    const calm = h.client();
    await ask(calm, 'subscribe', { symbol: 'BTCUSDT' });
    const flooder = h.client();
    await new Promise<void>((resolve) => flooder.once('connect', () => resolve()));
    const limited = nextEvent(flooder, 'error', (error) => error.code === 'RATE_LIMITED');
    for (let i = 0; i < MAX_EVENT_BURST + 20; i++) flooder.emit('get_all_symbols');
    expect(await limited).toMatchObject({ code: 'RATE_LIMITED', event: 'get_all_symbols' });
    expect(await ask(flooder, 'get_all_symbols')).toEqual({ success: false, message: 'rate limited' });
    expectMatchesExchange(h, await nextEvent(calm, 'price_update'));
    expect(flooder.connected).toBe(true);
    const realtime = await realtimeStatus(h);
    expect(realtime.rateLimited).toBeGreaterThanOrEqual(1);
    expect(realtime.clients).toBeGreaterThanOrEqual(2);
  });

  it('closes a connection that leaves the namespace and joins it again, or joins it twice at once, so no limit starts afresh', async () => {
    const closedWithin = (socket: WebSocket, ms: number): Promise<boolean> =>
      Promise.race([once(socket, 'close').then(() => true), sleep(ms).then(() => false)]);
    const rejoining = await openRawClient(h.url);
    const rejoiningClosed = closedWithin(rejoining.socket, 5000);
    rejoining.socket.send('41');
    await sleep(100); // the leave handled before the join
    if (rejoining.socket.readyState === WebSocket.OPEN) rejoining.socket.send('40');
    expect(await rejoiningClosed).toBe(true);

    const twice = new WebSocket(`${h.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    const twiceClosed = closedWithin(twice, 5000);
    twice.on('message', (data: Buffer) => {
      if (!data.toString().startsWith('0')) return;
      twice.send('40'); // Engine.IO open: join, and join again before the first is answered
      twice.send('40');
    });
    expect(await twiceClosed).toBe(true);
  });

  it('closes the connection of a client sending a message over the size limit, and only that one', async () => {
    const other = h.client();
    await ask(other, 'get_all_symbols');
    const big = h.client({ autoConnect: false });
    big.io.opts.reconnection = false;
    const closed = new Promise<string>((resolve) => big.on('disconnect', (reason) => resolve(reason)));
    big.connect();
    await new Promise<void>((resolve) => big.once('connect', () => resolve()));
    big.emit('subscribe', { symbol: 'X'.repeat(MAX_MESSAGE_BYTES) });
    expect(await closed).toBe('transport close');
    expect(await ask(other, 'get_all_symbols')).toMatchObject({ success: true });
  });

  it('skips a client that stops reading, keeps the others updated, and resumes it once it reads again', async () => {
    // An hour of 1-second samples makes each `historical_data` ~160 KB, so the paused client's
    // socket buffers fill within seconds of it re-subscribing.
    const to = h.now();
    await h.store.insertPriceSamples(hourOfSamples('ETHUSDT', to, 2000));
    const slowClients = async () => (await realtimeStatus(h)).slowClients;
    const fast = h.client();
    await ask(fast, 'subscribe', { symbol: 'BTCUSDT' });
    const slow = await openRawClient(h.url);
    try {
      slow.emit('subscribe', { symbol: 'BTCUSDT' });
      await slow.nextUpdate();
      slow.socket.pause(); // stops reading: the server's writes to it back up
      const deadline = Date.now() + 30_000;
      for (let i = 0; (await slowClients()) === 0; i++) {
        if (Date.now() > deadline) throw new Error('the paused client was never marked slow');
        // Under the flood limit: 16 events a second, each subscribe bringing a big history.
        slow.emit(i % 2 === 0 ? 'subscribe' : 'unsubscribe', { symbol: 'ETHUSDT' });
        await sleep(1000 / 16);
      }
      // While it is skipped, the others get every update.
      const meanwhile = await collect(fast, 'price_update', 1500);
      expect(meanwhile.length).toBeGreaterThanOrEqual(3);
      for (const update of meanwhile) expectMatchesExchange(h, update);
      slow.socket.resume(); // reads again: its backlog drains and it is updated again
      await expect.poll(slowClients, { timeout: 10_000 }).toBe(0);
      const after = await slow.nextUpdate((update) => update.timestamp > meanwhile.at(-1)!.timestamp);
      expectMatchesExchange(h, after);
      // What it missed while skipped was dropped, not queued for it.
      const seen = new Set(slow.updates.map((update) => update.timestamp));
      expect(meanwhile.filter((update) => !seen.has(update.timestamp)).length).toBeGreaterThan(0);
    } finally {
      slow.socket.terminate();
    }
  }, 60_000);

  it('refuses the requests of a client that leaves its replies unread, past the backlog bound, until it reads', async () => {
    // Symbols with an hour of samples each: every subscribe brings a ~160 KB history, so one burst
    // of them leaves far more than the bound waiting for a client that does not read.
    const symbols = Array.from({ length: 200 }, (_, i) => `Y${String(i).padStart(3, '0')}USDT`);
    expect(symbols.length * 150_000).toBeGreaterThan(MAX_CLIENT_BACKLOG_BYTES + 8 * 1024 * 1024);
    await storeInactiveSymbols(h, symbols);
    const to = h.now();
    await h.store.insertPriceSamples(symbols.flatMap((symbol) => hourOfSamples(symbol, to, 100)));
    const refusals = async () => (await realtimeStatus(h)).backlogRefusals;
    const before = await refusals();
    const reader = await openRawClient(h.url);
    const errors: string[] = [];
    /** Ids of the acks received. */
    const acks: number[] = [];
    reader.socket.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text.startsWith('42["error",')) errors.push(text);
      const ack = /^43(\d+)\[/.exec(text);
      if (ack) acks.push(Number(ack[1]));
    });
    try {
      reader.socket.pause();
      for (const symbol of symbols) reader.emit('subscribe', { symbol }); // one burst: all answered
      await expect
        .poll(
          async () => {
            reader.emit('get_all_symbols', {});
            return refusals();
          },
          { timeout: 20_000, interval: 500 },
        )
        .toBeGreaterThan(before);
      // An unsubscribe still goes through: it only sheds load.
      const subscriptions = (await realtimeStatus(h)).subscriptions;
      reader.emit('unsubscribe', { symbol: symbols[0] });
      await expect
        .poll(async () => (await realtimeStatus(h)).subscriptions, { timeout: 10_000 })
        .toBe(subscriptions - 1);
      // Flooding on without reading adds nothing past the bound: no reply to each refused event,
      // whether refused for the backlog or, once the budget is spent, for the rate.
      for (let id = FLOOD_FIRST_ACK_ID; id < FLOOD_FIRST_ACK_ID + FLOOD_EVENTS; id++) {
        reader.socket.send(`42${id}${JSON.stringify(['get_all_symbols', {}])}`);
      }
      // Reading again, it finds every history it asked for, then the refusal, and is served again.
      reader.socket.resume();
      await expect.poll(() => errors.length, { timeout: 20_000 }).toBeGreaterThan(0);
      expect(JSON.parse(errors[0]!.slice(2))).toEqual([
        'error',
        expect.objectContaining({ code: 'BACKLOG_FULL', event: 'get_all_symbols' }),
      ]);
      // A last request's reply comes after any the flood got (one at most: the throttle's notice).
      reader.socket.send(`421${JSON.stringify(['get_all_symbols', {}])}`);
      await expect.poll(() => acks.includes(1), { timeout: 20_000 }).toBe(true);
      expect(acks.filter((id) => id >= FLOOD_FIRST_ACK_ID).length).toBeLessThanOrEqual(1);
      await sleep(THROTTLE_MS); // the flood throttled it
      reader.emit('subscribe', { symbol: 'BTCUSDT' });
      expectMatchesExchange(h, await reader.nextUpdate());
    } finally {
      reader.socket.terminate();
    }
  }, 60_000);

  it('receives updates again after a reconnect, once the client resubscribes', async () => {
    const client = h.client();
    let connects = 0;
    client.on('connect', () => {
      connects++;
      client.emit('subscribe', { symbol: 'SOLUSDT' });
    });
    await nextEvent(client, 'price_update');
    client.io.engine.close(); // the transport drops; the client reconnects by itself
    await nextEvent(client, 'subscription_confirmed', () => connects === 2);
    expectMatchesExchange(h, await nextEvent(client, 'price_update'));
  });
});

describe('Socket.IO with many subscriptions per client', () => {
  const SYMBOL_COUNT = 100;
  const symbols = generatedSymbolNames(SYMBOL_COUNT);
  const INTERVAL_MS = 2000;
  const WINDOWS = 3;
  /** How long past the windows the clients keep listening, in ms, for a burst that left as they ended. */
  const DELIVERY_SLACK_MS = 500;
  let h: RealtimeHarness;
  beforeAll(async () => {
    // A long interval gathers nearly every symbol's change of a window into one burst at its end.
    h = await startRealtimeHarness(Date.parse('2026-01-01T02:00:30Z'), {
      symbols,
      broadcastIntervalMs: INTERVAL_MS,
    });
    await sleep(3000);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('delivers a burst larger than the slow-client bound whole to fast clients, over WebSocket and upgraded from polling', async () => {
    // One over WebSocket from the start, one upgraded from polling.
    const clients = [h.client(), h.client({ transports: ['polling', 'websocket'] })];
    for (const client of clients) {
      const acks = await Promise.all(symbols.map((symbol) => ask(client, 'subscribe', { symbol })));
      expect(acks.every((ack) => ack.success)).toBe(true);
    }
    const updatesSent = async () => (await realtimeStatus(h)).updatesSent;
    const sentBefore = await updatesSent();
    // Counted at the end of the windows, heard for a while longer: a burst that leaves as they end
    // is counted as sent and still reaches the clients.
    const sentByEnd = sleep(WINDOWS * INTERVAL_MS).then(updatesSent);
    const received = await Promise.all(
      clients.map((client) => collect(client, 'price_update', WINDOWS * INTERVAL_MS + DELIVERY_SLACK_MS)),
    );
    const sent = (await sentByEnd) - sentBefore;
    // Each window's waiting symbols leave together: bursts far above the slow-client bound.
    expect(sent / (WINDOWS + 1)).toBeGreaterThan(MAX_PENDING_PACKETS_PER_CLIENT);
    // Every update sent reaches both (in the same rooms), but for those on the way at either end.
    for (const updates of received) expect(updates.length).toBeGreaterThanOrEqual(sent * 0.9);
  }, 60_000);
});

describe('Socket.IO write batching', () => {
  const SYMBOL_COUNT = 50;
  const symbols = generatedSymbolNames(SYMBOL_COUNT);
  const INTERVAL_MS = 1000;
  let h: RealtimeHarness;
  beforeAll(async () => {
    h = await startRealtimeHarness(Date.parse('2026-01-01T02:00:30Z'), {
      symbols,
      broadcastIntervalMs: INTERVAL_MS,
    });
    await sleep(2000);
  });
  afterAll(async () => {
    await h?.stop();
  });

  /**
   * Counts the server's writes (system calls, `_write` or `_writev`) that carry a `price_update`, on
   * every TCP socket accepted from now on, and those of them that are one buffer (a `_write`).
   */
  function countUpdateWrites(): { readonly writes: number; readonly singleBuffer: number } {
    const counter = { writes: 0, singleBuffer: 0 };
    const carriesUpdate = (chunk: unknown): boolean =>
      Buffer.isBuffer(chunk) ? chunk.includes('price_update') : String(chunk).includes('price_update');
    h.app.server.on('connection', (tcp: Socket) => {
      const write = tcp._write.bind(tcp);
      const writev = tcp._writev?.bind(tcp);
      tcp._write = (chunk, encoding, callback) => {
        if (carriesUpdate(chunk)) {
          counter.writes++;
          counter.singleBuffer++;
        }
        write(chunk, encoding, callback);
      };
      if (writev)
        tcp._writev = (chunks, callback) => {
          if (chunks.some(({ chunk }) => carriesUpdate(chunk))) counter.writes++;
          writev(chunks, callback);
        };
    });
    return counter;
  }

  it.each([
    ['over WebSocket from the start', ['websocket'] as const],
    ["upgraded from polling (socket.io-client's default)", ['polling', 'websocket'] as const],
  ])(
    'writes a burst of price updates to a client together, not one write per update, %s',
    async (_, transports) => {
      const writes = countUpdateWrites();
      const client = h.client({ transports: [...transports] });
      try {
        const onWebSocket = async () => client.connected && client.io.engine.transport.name === 'websocket';
        await waitUntil('client connected over WebSocket', onWebSocket, 5000);
        const acks = await Promise.all(symbols.map((symbol) => ask(client, 'subscribe', { symbol })));
        expect(acks.every((ack) => ack.success)).toBe(true);
        const before = { ...writes };
        const updates = await collect(client, 'price_update', 4 * INTERVAL_MS);
        const updateWrites = writes.writes - before.writes;
        // Each second's waiting symbols leave together at its start (one write); a few leave alone
        // as they arrive. One write per update would make as many writes as updates.
        expect(updates.length).toBeGreaterThan(2 * SYMBOL_COUNT);
        expect(updateWrites).toBeGreaterThan(0);
        expect(updateWrites).toBeLessThan(updates.length / 4);
        // Each write one buffer of whole frames, not a chunk per frame; a turn that also had a
        // heartbeat for the client goes through Engine.IO instead (fanout.ts).
        expect(writes.singleBuffer - before.singleBuffer).toBeGreaterThanOrEqual(updateWrites - 1);
      } finally {
        client.close();
      }
    },
    30_000,
  );
});

describe('Socket.IO with a cache', () => {
  /** A cache and the harness on it, with SOLUSDT's window filled for the 3,700 s before its now. */
  async function withFilledWindow(price: (second: number) => string) {
    const cache = new MemoryCache({ now: Date.now });
    const h = await startRealtimeHarness(Date.parse('2026-01-01T02:00:30Z'), { cache });
    const to = h.now();
    const window = Array.from({ length: 3700 }, (_, i) => ({
      symbol: 'SOLUSDT',
      price: price(i),
      timestamp: to - (3700 - i) * 1000,
    }));
    await cache.appendWindow(window);
    return { cache, h, to, window };
  }

  it("sends history from the cache's sliding window once it covers the hour asked for", async () => {
    const { h, window } = await withFilledWindow((i) => `${100 + i / 100}`);
    try {
      const client = h.client();
      const history = nextEvent(client, 'historical_data');
      const before = h.now();
      await ask(client, 'subscribe', { symbol: 'SOLUSDT' });
      const { data } = await history;
      const after = h.now();
      // The hour before the server's own now, which lies between `before` and `after`.
      const first = data[0]!.timestamp;
      expect(first).toBeGreaterThanOrEqual(before - 60 * MINUTE_MS);
      expect(first).toBeLessThanOrEqual(after - 60 * MINUTE_MS + 1000);
      expect(data.length).toBeGreaterThan(3500);
      expect(data).toEqual(
        window
          .filter((sample) => sample.timestamp >= first)
          .map((sample) => ({ timestamp: sample.timestamp, price: Number.parseFloat(sample.price) })),
      );
    } finally {
      await h.stop();
    }
  });

  it('reads history from the store instead when a write to the window within the hour was lost', async () => {
    // Prices no exchange sample has, so that any of them in the history came from the window.
    const { cache, h, to } = await withFilledWindow((i) => `${900_000 + i}`);
    try {
      await cache.markWindowGap(to - 30 * MINUTE_MS); // the cache writer lost a write half an hour ago
      const stored = async () =>
        (await h.store.listPriceSamples({ symbol: 'SOLUSDT', limit: 1, order: 'desc' })).length > 0;
      await waitUntil('the exchange sample of SOLUSDT stored', stored, 10_000);
      const client = h.client();
      const history = nextEvent(client, 'historical_data');
      await ask(client, 'subscribe', { symbol: 'SOLUSDT' });
      const { data } = await history;
      expect(data.length).toBeGreaterThan(0); // the store's samples of the simulated exchange
      expect(data.filter((point) => point.price >= 900_000)).toEqual([]);
    } finally {
      await h.stop();
    }
  });
});

describe('Socket.IO at shutdown', () => {
  it('closes with the app within the shutdown time while a client no longer answers', async () => {
    const h = await startRealtimeHarness(Date.parse('2026-01-01T02:00:30Z'));
    const silent = await openRawClient(h.url);
    silent.socket.pause(); // gone off the network: it never answers the server's close frame
    try {
      // The link, then the app: done within the service's shutdown budget (ws alone waits 30 s).
      const stopped = await Promise.race([
        h.stop().then(() => 'stopped'),
        sleep(SHUTDOWN_TIMEOUT_MS, 'still closing'),
      ]);
      expect(stopped).toBe('stopped');
    } finally {
      silent.socket.terminate();
      await h.stop();
    }
  }, 40_000);
});

describe('Socket.IO session close', () => {
  // Ten simulated minutes, ten real seconds: room for a loaded machine to start the harness, backfill
  // and subscribe before the boundary.
  const SESSION_LEAD_MS = 10 * MINUTE_MS;

  it('pushes the closed session and the new one to subscribers when a session closes, and closes with the app', async () => {
    const boundary = Date.parse('2026-01-01T05:00:00Z');
    // SESSION_LEAD simulated minutes (as many real seconds) before the 05:00 boundary, with history
    // back to the 01:00 session's open: a session whose history starts inside it is not shown once
    // closed.
    const cache = new MemoryCache({ now: Date.now });
    const h = await startRealtimeHarness(boundary - SESSION_LEAD_MS, { cache, lookbackMs: 4 * HOUR_MS });
    try {
      const client = h.client();
      await ask(client, 'subscribe', { symbol: 'ETHUSDT' });
      expect(h.now(), 'subscribed before the boundary').toBeLessThan(boundary);
      const pushed = await nextEvent(client, 'interval_data', () => true, 30_000);
      expect(pushed.symbol).toBe('ETHUSDT');
      const [closed, next] = pushed.intervals;
      expect(closed).toMatchObject({
        openTime: Date.parse('2026-01-01T01:00:00Z'),
        closeTime: boundary - 1,
        closed: true,
      });
      const lastMinute = h.exchange.market.trueKline('ETHUSDT', boundary - MINUTE_MS);
      expect(closed!.close).toBe(Number.parseFloat(lastMinute!.close));
      expect(next).toMatchObject({ openTime: boundary, closed: false });
      // Kept for the other instances' pushes (the cache's session aggregates).
      expect(candleToJson((await cache.getSession('ETHUSDT', closed!.openTime))!)).toEqual(closed);
      const disconnected = new Promise((resolve) => client.once('disconnect', resolve));
      await h.stop(); // the link, then the app (and Socket.IO with it)
      expect(await disconnected).toBe('io server disconnect');
    } finally {
      await h.stop();
    }
  }, 60_000);

  it('waits for a closed session whose last candle comes late, and pushes it final', async () => {
    const boundary = Date.parse('2026-01-01T05:00:00Z');
    const h = await startRealtimeHarness(boundary - SESSION_LEAD_MS, { lookbackMs: 4 * HOUR_MS });
    try {
      const client = h.client();
      await ask(client, 'subscribe', { symbol: 'ETHUSDT' });
      expect(h.now(), 'subscribed before the boundary').toBeLessThan(boundary - 15_000);
      const pushed = nextEvent(client, 'interval_data', () => true, 40_000);
      // The exchange goes silent 15 simulated seconds before the boundary: the last minute's final
      // kline never comes on the stream, and only gap repair (after the link sees the silence and
      // reconnects, and REST has settled) stores it, seconds after the push would have read.
      await waitUntil('15 s before the boundary', async () => h.now() >= boundary - 15_000, 30_000);
      h.exchange.faults.stall(3 * MINUTE_MS);
      const [closed] = (await pushed).intervals;
      expect(closed).toMatchObject({ closeTime: boundary - 1, closed: true });
      const lastMinute = h.exchange.market.trueKline('ETHUSDT', boundary - MINUTE_MS);
      expect(closed!.close).toBe(Number.parseFloat(lastMinute!.close));
    } finally {
      await h.stop();
    }
  }, 60_000);
});
