/**
 * The simulated Binance exchange speaks BINANCE.md faithfully: real sockets on 127.0.0.1, `fetch`
 * and a `ws` client. Waits are for events with bounded timeouts; long spans of market time pass on
 * an accelerated clock (speed 60: one simulated minute per real second).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { aggregateCandles } from '../src/domain/candle.js';
import { canonicalDecimal, formatDecimal } from '../src/domain/decimal.js';
import { createFixedGrid, HOUR_MS, MINUTE_MS } from '../src/domain/intervals.js';
import {
  createAcceleratedClock,
  createMarket,
  createSimulatedExchange,
  generatedSymbolNames,
  toCandle,
  type SimulatedExchange,
  type SimulatedExchangeOptions,
} from '../src/binance/simulator/index.js';
import {
  field,
  isRecord,
  openStream,
  waitUntil,
  type ReceivedFrame,
  type StreamClient,
} from './helpers/sim-client.js';
import {
  eventTime,
  get,
  isClosingFrame,
  isKlineFrame,
  klines,
  klineStart,
  openTimes,
  rowToCandle,
  type Reply,
} from './helpers/sim-exchange.js';

/** 10 s before a minute boundary, so a kline closes soon after a test starts. */
const START = Date.UTC(2024, 0, 1, 12, 0, 50);
const START_MINUTE = Math.floor(START / MINUTE_MS) * MINUTE_MS;
const FAST = 60;
const DECIMAL_8 = /^\d+\.\d{8}$/;
/** The FULL ticker/24hr fields in Binance's order (fixture ticker_24hr_rest.json). */
// prettier-ignore
const FULL_TICKER_FIELDS = [
  'symbol', 'priceChange', 'priceChangePercent', 'weightedAvgPrice', 'prevClosePrice', 'lastPrice', 'lastQty',
  'bidPrice', 'bidQty', 'askPrice', 'askQty', 'openPrice', 'highPrice', 'lowPrice', 'volume', 'quoteVolume',
  'openTime', 'closeTime', 'firstId', 'lastId', 'count',
];

const exchanges: SimulatedExchange[] = [];
const clients: StreamClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(exchanges.splice(0).map((exchange) => exchange.close()));
});

async function exchange(options: SimulatedExchangeOptions = {}, speed = FAST): Promise<SimulatedExchange> {
  const created = await createSimulatedExchange({
    seed: 42,
    clock: createAcceleratedClock({ start: START, speed }),
    ...options,
  });
  exchanges.push(created);
  return created;
}

async function stream(ex: SimulatedExchange, path: string, autoPong = true): Promise<StreamClient> {
  const client = await openStream(`${ex.wsUrl}${path}`, { autoPong });
  clients.push(client);
  return client;
}

describe('simulated market', () => {
  it('gives identical klines and tickers for the same seed, whatever the order of questions', () => {
    const a = createMarket({ seed: 7 });
    const b = createMarket({ seed: 7 });
    const minutes = Array.from({ length: 30 }, (_, i) => START_MINUTE - i * MINUTE_MS);
    for (const symbol of a.symbols) {
      const forward = minutes.map((m) => a.trueKline(symbol, m));
      const backward = [...minutes].reverse().map((m) => b.trueKline(symbol, m));
      expect(backward.reverse()).toEqual(forward);
    }
    expect(b.ticker24h('BTCUSDT', START)).toEqual(a.ticker24h('BTCUSDT', START));
    expect(createMarket({ seed: 8 }).trueKline('BTCUSDT', START_MINUTE)).not.toEqual(
      a.trueKline('BTCUSDT', START_MINUTE),
    );
  });

  it('builds a closed kline from exactly its trades, with ids contiguous across minutes', () => {
    const market = createMarket({ seed: 3 });
    const profile = market.profile('ETHUSDT')!;
    const trades = market.tradesOf('ETHUSDT', START_MINUTE);
    const kline = market.trueKline('ETHUSDT', START_MINUTE)!;
    const qty = trades.reduce((sum, t) => sum + BigInt(t.qtySteps), 0n);
    const quote = trades.reduce((sum, t) => sum + BigInt(t.priceTicks) * BigInt(t.qtySteps), 0n);
    expect(kline.trades).toBe(trades.length);
    expect(canonicalDecimal(kline.volume)).toBe(formatDecimal({ units: qty, scale: profile.stepDecimals }));
    expect(canonicalDecimal(kline.quoteVolume)).toBe(
      formatDecimal({ units: quote, scale: profile.stepDecimals + profile.tickDecimals }),
    );
    expect([kline.firstTradeId, kline.lastTradeId]).toEqual([trades[0]!.id, trades.at(-1)!.id]);
    expect(market.trueKline('ETHUSDT', START_MINUTE + MINUTE_MS)!.firstTradeId).toBe(kline.lastTradeId + 1);
    for (const text of [kline.open, kline.high, kline.low, kline.close, kline.quoteVolume]) {
      expect(text).toMatch(DECIMAL_8);
    }
  });

  it('lists stablecoin and fiat bases, a non-USDT pair and a BREAK pair next to the requested symbols', () => {
    const info = createMarket({ symbols: generatedSymbolNames(3) }).exchangeInfo({ serverTime: START });
    const bySymbol = new Map(info.symbols.map((s) => [s.symbol, s]));
    expect([...bySymbol.keys()]).toEqual(
      expect.arrayContaining(['SIM001USDT', 'SIM003USDT', 'USDCUSDT', 'FDUSDUSDT', 'EURUSDT', 'ETHBTC']),
    );
    expect(bySymbol.get('ETHBTC')).toMatchObject({ baseAsset: 'ETH', quoteAsset: 'BTC', status: 'TRADING' });
    expect(bySymbol.get('PAUSEDUSDT')).toMatchObject({ status: 'BREAK', isSpotTradingAllowed: false });
    expect(bySymbol.get('FDUSDUSDT')).toMatchObject({ baseAsset: 'FDUSD', quoteAsset: 'USDT' });
  });
});

describe('REST klines', () => {
  it('pages by Binance rules: most recent, oldest from startTime, most recent up to endTime, both bounds', async () => {
    const ex = await exchange({}, 1);
    const q = 'symbol=BTCUSDT&interval=1m';
    expect(openTimes(await klines(ex, `${q}&limit=3`))).toEqual([
      START_MINUTE - 2 * MINUTE_MS,
      START_MINUTE - MINUTE_MS,
      START_MINUTE,
    ]);
    expect(await klines(ex, q)).toHaveLength(500);
    const from = START_MINUTE - 100 * MINUTE_MS;
    expect(openTimes(await klines(ex, `${q}&startTime=${from}&limit=2`))).toEqual([from, from + MINUTE_MS]);
    expect(openTimes(await klines(ex, `${q}&startTime=${from + 1}&limit=1`))).toEqual([from + MINUTE_MS]);
    expect(openTimes(await klines(ex, `${q}&endTime=${from + 30_000}&limit=2`))).toEqual([
      from - MINUTE_MS,
      from,
    ]);
    const both = await klines(ex, `${q}&startTime=${from}&endTime=${from + 2 * MINUTE_MS}&limit=10`);
    expect(openTimes(both)).toEqual([from, from + MINUTE_MS, from + 2 * MINUTE_MS]);
    expect(await klines(ex, `${q}&startTime=${from}&endTime=${from}`)).toHaveLength(1);
    expect(await klines(ex, `${q}&startTime=${from - 2000 * MINUTE_MS}&limit=5000`)).toHaveLength(1000);
  });

  it('includes the forming kline with a close time in the future, in 12-field rows of 8-decimal strings', async () => {
    const ex = await exchange({}, 1);
    const rows = await klines(ex, 'symbol=ETHUSDT&interval=1m&limit=2');
    const serverTime = field((await get(ex, '/api/v3/time')).body, 'serverTime') as number;
    const forming = rows.at(-1)!;
    expect(forming[0]).toBe(START_MINUTE);
    expect(forming[6]).toBe(START_MINUTE + MINUTE_MS - 1);
    expect(forming[6]).toBeGreaterThan(serverTime);
    for (const row of rows) {
      expect(row).toHaveLength(12);
      for (const i of [1, 2, 3, 4, 5, 7, 9, 10] as const) expect(row[i]).toMatch(DECIMAL_8);
      expect(row[11]).toBe('0');
    }
  });

  it('serves longer intervals that equal the exact aggregation of their 1m klines', async () => {
    const ex = await exchange({}, 1);
    const hourStart = Math.floor(START / HOUR_MS) * HOUR_MS - 3 * HOUR_MS;
    const [hour] = await klines(ex, `symbol=SOLUSDT&interval=1h&startTime=${hourStart}&limit=1`);
    const minutes = await klines(ex, `symbol=SOLUSDT&interval=1m&startTime=${hourStart}&limit=60`);
    const [aggregated] = aggregateCandles(
      minutes.map((row) => rowToCandle('SOLUSDT', '1m', row)),
      { interval: '1h', bucketAt: (time) => createFixedGrid(HOUR_MS).bucketAt(time) },
    );
    expect(rowToCandle('SOLUSDT', '1h', hour!)).toEqual(aggregated);
  });

  it('answers malformed requests with Binance error codes', async () => {
    const ex = await exchange();
    const cases: [string, number, number][] = [
      ['/api/v3/klines?symbol=NOPEUSDT&interval=1m', 400, -1121],
      ['/api/v3/klines?symbol=BTCUSDT&interval=2x', 400, -1120],
      ['/api/v3/klines?interval=1m', 400, -1102],
      ['/api/v3/klines?symbol=btc!usdt&interval=1m', 400, -1100],
      ['/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=soon', 400, -1100],
      ['/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=2&endTime=1', 400, -1023],
      ['/api/v3/klines?symbol=BTCUSDT&interval=1m&colour=red', 400, -1104],
      ['/api/v3/ticker/24hr?symbols=BTCUSDT', 400, -1100],
      ['/api/v3/ticker/24hr?symbols=["BTCUSDT","BTCUSDT"]', 400, -1151],
    ];
    for (const [path, status, code] of cases) {
      const reply = await get(ex, path);
      expect({ path, status: reply.status, code: field(reply.body, 'code') }).toEqual({ path, status, code });
      expect(typeof field(reply.body, 'msg')).toBe('string');
    }
    expect((await get(ex, '/api/v3/klines?symbol=NOPEUSDT&interval=1m')).body).toEqual({
      code: -1121,
      msg: 'Invalid symbol.',
    });
  });

  it('answers 400 to a request target that is no URL path, and keeps serving', async () => {
    const ex = await exchange();
    // `//` alone reads as a URL with an empty host: resolving it against a base throws.
    const reply = await get(ex, '//');
    expect(reply.status).toBe(400);
    expect(typeof field(reply.body, 'msg')).toBe('string');
    expect((await get(ex, '/api/v3/ping')).status).toBe(200);
  });
});

describe('REST weights and other endpoints', () => {
  it('counts weight per IP in X-MBX-USED-WEIGHT-1M, then answers 429 and, when ignored, 418 with Retry-After', async () => {
    const ex = await exchange({ weightLimitPerMinute: 50 });
    const used = async (path: string): Promise<Reply> => get(ex, path);
    const steps = [
      ['/api/v3/exchangeInfo', 200, '20'],
      ['/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1', 200, '22'],
      ['/api/v3/time', 200, '23'],
      ['/api/v3/ticker/24hr?symbol=BTCUSDT', 200, '25'],
      ['/api/v3/exchangeInfo', 200, '45'],
    ] as const;
    for (const [path, status, weight] of steps) {
      const reply = await used(path);
      expect([path, reply.status, reply.headers.get('x-mbx-used-weight-1m')]).toEqual([path, status, weight]);
    }
    const limited = await used('/api/v3/exchangeInfo');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(field(limited.body, 'code')).toBe(-1003);
    expect(String(field(limited.body, 'msg'))).toMatch(/^Too much request weight used; current limit is 50/);
    const banned = await used('/api/v3/ping');
    expect(banned.status).toBe(418);
    expect(banned.headers.get('retry-after')).toBe('120');
    expect(String(field(banned.body, 'msg'))).toMatch(/IP banned until \d+/);
    expect((await used('/api/v3/ping')).status).toBe(418);
  });

  it('charges ticker/24hr by its weight table and serves FULL and MINI bodies', async () => {
    const ex = await exchange();
    const all = await get(ex, '/api/v3/ticker/24hr');
    expect(all.headers.get('x-mbx-used-weight-1m')).toBe('80');
    expect(all.body).toHaveLength(ex.market.symbols.length);
    const pair = await get(ex, `/api/v3/ticker/24hr?symbols=${encodeURIComponent('["BTCUSDT","ETHUSDT"]')}`);
    expect(pair.headers.get('x-mbx-used-weight-1m')).toBe('82');
    expect((pair.body as unknown[]).map((t) => field(t, 'symbol'))).toEqual(['BTCUSDT', 'ETHUSDT']);
    const one = await get(ex, '/api/v3/ticker/24hr?symbol=BTCUSDT');
    expect(Object.keys(one.body as object)).toEqual(FULL_TICKER_FIELDS);
    const mini = await get(ex, '/api/v3/ticker/24hr?symbol=BTCUSDT&type=MINI');
    expect(Object.keys(mini.body as object)).not.toContain('lastQty');
    expect((await get(ex, '/api/v3/ticker/24hr?symbol=PAUSEDUSDT&symbolStatus=TRADING')).status).toBe(400);
  });

  it('filters exchangeInfo the way the universe query asks', async () => {
    const ex = await exchange();
    const reply = await get(
      ex,
      '/api/v3/exchangeInfo?permissions=SPOT&symbolStatus=TRADING&showPermissionSets=false',
    );
    const symbols = field(reply.body, 'symbols') as Record<string, unknown>[];
    expect(symbols.map((s) => s.symbol)).not.toContain('PAUSEDUSDT');
    expect(symbols.map((s) => s.symbol)).toContain('USDCUSDT');
    expect(symbols.every((s) => s.status === 'TRADING' && Array.isArray(s.permissionSets))).toBe(true);
    expect(field(reply.body, 'rateLimits')).toContainEqual({
      rateLimitType: 'REQUEST_WEIGHT',
      interval: 'MINUTE',
      intervalNum: 1,
      limit: 6000,
    });
    expect(
      field((await get(ex, '/api/v3/exchangeInfo?symbol=BTCUSDT&symbolStatus=TRADING')).body, 'code'),
    ).toBe(-1128);
  });

  it('fails the next requests with an injected status, and delays responses when asked', async () => {
    const ex = await exchange();
    ex.faults.restErrors({ status: 503, count: 2 });
    ex.faults.restErrors({ status: 429, count: 1, retryAfterSeconds: 7 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await get(ex, '/api/v3/ping'));
    expect(statuses.map((s) => s.status)).toEqual([503, 503, 429, 200]);
    expect(field(statuses[0]!.body, 'code')).toBe(-1008);
    expect(statuses[2]!.headers.get('retry-after')).toBe('7');
    // Long enough that a prompt request, made once the delayed one has arrived, answers first even
    // on a loaded machine.
    ex.faults.restDelay(2000);
    const order: string[] = [];
    const slow = get(ex, '/api/v3/time').then(() => order.push('delayed'));
    await waitUntil(() => ex.stats().restRequests === 5, 'the delayed request to arrive');
    ex.faults.restDelay(0);
    await get(ex, '/api/v3/ping').then(() => order.push('prompt'));
    await slow;
    expect(order).toEqual(['prompt', 'delayed']);
  });
});

describe('combined streams', () => {
  it('pushes forming klines, then the closing x:true kline that equals the REST row of that minute', async () => {
    const ex = await exchange();
    const client = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    const closing = await client.nextFrame(isClosingFrame);
    expect(field(closing.json, 'stream')).toBe('btcusdt@kline_1m');
    const t = klineStart(closing);
    expect(eventTime(closing)).toBe(t + MINUTE_MS);
    const forming = client.frames.filter((f) => isKlineFrame(f) && klineStart(f) === t && !isClosingFrame(f));
    expect(forming.length).toBeGreaterThan(0);
    const [row] = await klines(ex, `symbol=BTCUSDT&interval=1m&startTime=${t}&limit=1`);
    const k = field(closing.json, 'data', 'k') as Record<string, unknown>;
    expect([k.t, k.o, k.h, k.l, k.c, k.v, k.T, k.q, k.n, k.V, k.Q, k.B]).toEqual(row);
    expect(toCandle(ex.market.trueKline('BTCUSDT', t)!)).toEqual(rowToCandle('BTCUSDT', '1m', row!));
  });

  it('serves a raw /ws/<stream> connection with bare payloads', async () => {
    const ex = await exchange();
    const client = await stream(ex, '/ws/ethusdt@kline_1m');
    const frame = await client.nextFrame((f) => field(f.json, 'e') === 'kline');
    expect(field(frame.json, 'stream')).toBeUndefined();
    expect(field(frame.json, 's')).toBe('ETHUSDT');
    expect(ex.connections()[0]).toMatchObject({ combined: false, streams: ['ethusdt@kline_1m'] });
  });

  it('leaves halted minutes without a kline in REST and in the stream', async () => {
    const ex = await exchange({ klineUpdateIntervalMs: 1000 }, 2 * FAST);
    const haltFrom = START_MINUTE + MINUTE_MS;
    ex.faults.halt('BNBUSDT', haltFrom, haltFrom + 2 * MINUTE_MS);
    const client = await stream(ex, '/stream?streams=bnbusdt@kline_1m');
    await client.nextFrame((f) => isClosingFrame(f) && klineStart(f) === haltFrom + 2 * MINUTE_MS, 0, 10_000);
    const starts = new Set(client.frames.filter(isKlineFrame).map(klineStart));
    expect(starts.has(haltFrom) || starts.has(haltFrom + MINUTE_MS)).toBe(false);
    expect(starts.has(START_MINUTE)).toBe(true);
    const rows = await klines(ex, `symbol=BNBUSDT&interval=1m&startTime=${START_MINUTE}&limit=3`);
    expect(openTimes(rows)).toEqual([START_MINUTE, haltFrom + 2 * MINUTE_MS, haltFrom + 3 * MINUTE_MS]);
    expect(ex.market.trueKline('BNBUSDT', haltFrom)).toBeUndefined();
  });

  it('carries in !miniTicker@arr only the symbols whose ticker changed', async () => {
    const ex = await exchange();
    const client = await stream(ex, '/stream?streams=!miniTicker@arr');
    await waitUntil(() => client.frames.length >= 20, '20 miniTicker frames');
    const last = new Map<string, string>();
    const trading = ex.market.symbols.length - 1; // PAUSEDUSDT never trades
    let partial = 0;
    for (const frame of client.frames.slice(0, 20)) {
      expect(field(frame.json, 'stream')).toBe('!miniTicker@arr');
      const tickers = field(frame.json, 'data') as Record<string, unknown>[];
      if (tickers.length < trading) partial++;
      for (const t of tickers) {
        expect(t.e).toBe('24hrMiniTicker');
        const key = [t.c, t.o, t.h, t.l, t.v, t.q].join('|');
        expect(last.get(String(t.s))).not.toBe(key);
        last.set(String(t.s), key);
      }
    }
    expect(partial).toBeGreaterThan(0);
    expect(last.has('PAUSEDUSDT')).toBe(false);
  });

  it('answers the live control messages and the documented control errors', async () => {
    const ex = await exchange({ maxIncomingMessagesPerSecond: 1000 });
    const client = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    const ask = async (message: unknown): Promise<unknown> => {
      const from = client.frames.length;
      client.send(message);
      const isReply = (f: ReceivedFrame): boolean =>
        isRecord(f.json) && ('result' in f.json || 'code' in f.json);
      return (await client.nextFrame(isReply, from)).json;
    };
    expect(await ask({ method: 'SUBSCRIBE', params: ['ethusdt@kline_1m', 'nosuch@stream'], id: 1 })).toEqual({
      result: null,
      id: 1,
    });
    expect(await ask({ method: 'UNSUBSCRIBE', params: ['nosuch@stream'], id: 'a1' })).toEqual({
      result: null,
      id: 'a1',
    });
    expect(await ask({ method: 'LIST_SUBSCRIPTIONS', id: 3 })).toEqual({
      result: ['btcusdt@kline_1m', 'ethusdt@kline_1m'],
      id: 3,
    });
    expect(await ask({ method: 'SET_PROPERTY', params: ['combined', false], id: 5 })).toEqual({
      result: null,
      id: 5,
    });
    expect(await ask({ method: 'GET_PROPERTY', params: ['combined'], id: 2 })).toEqual({
      result: false,
      id: 2,
    });
    expect(await ask({ method: 'GET_PROPERTY', params: ['speed'], id: 6 })).toEqual({
      code: 0,
      msg: 'Unknown property',
      id: 6,
    });
    expect(await ask({ method: 'SET_PROPERTY', params: ['combined', 'yes'], id: 7 })).toMatchObject({
      code: 1,
    });
    expect(await ask({ method: 'LIST_SUBSCRIPTIONS', params: ['x'], id: 8 })).toMatchObject({ code: 2 });
    expect(await ask({ method: 'LIST_SUBSCRIPTIONS', id: 1.5 })).toEqual({
      code: 2,
      msg: 'Invalid request: request ID must be an unsigned integer',
    });
    expect(String(field(await ask({ method: 'SUBSCRIBEX', id: 9 }), 'msg'))).toMatch(
      /unknown variant `SUBSCRIBEX`/,
    );
    expect(String(field(await ask({ params: [], id: 10 }), 'msg'))).toMatch(/missing field `method`/);
    expect(await ask('{"method":')).toMatchObject({ code: 3 });
    // With combined off the payload arrives bare.
    const bare = await client.nextFrame((f) => field(f.json, 'e') === 'kline', client.frames.length);
    expect(field(bare.json, 'stream')).toBeUndefined();
  });

  it('closes a connection with 1008 on its sixth message within a second', async () => {
    const ex = await exchange({}, 1);
    const client = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    for (let id = 1; id <= 6; id++) client.send({ method: 'LIST_SUBSCRIPTIONS', id });
    expect(await client.closed).toEqual({ code: 1008, reason: 'Too many requests' });
  });

  it('closes a connection that asks for more than 1024 streams, by URL or by SUBSCRIBE', async () => {
    const ex = await exchange({ symbols: generatedSymbolNames(300) });
    const fed = generatedSymbolNames(300).map((s) => `${s.toLowerCase()}@kline_1m`);
    const names = [...fed, ...Array.from({ length: 725 }, (_, i) => `filler${i}@kline_1m`)];
    const byUrl = await stream(ex, `/stream?streams=${names.join('/')}`);
    expect(await byUrl.closed).toEqual({ code: 1008, reason: 'Too many streams' });
    const bySubscribe = await stream(ex, `/stream?streams=${names.slice(0, 1000).join('/')}`);
    bySubscribe.send({ method: 'SUBSCRIBE', params: names.slice(1000), id: 1 });
    expect(await bySubscribe.closed).toEqual({ code: 1008, reason: 'Too many streams' });
    const full = await stream(ex, `/stream?streams=${names.slice(0, 1024).join('/')}`);
    await full.nextFrame(isKlineFrame);
    expect(ex.connections().find((c) => c.streams.length === 1024)).toBeDefined();
  });

  it('pings with a payload and keeps a connection that answers, but closes one that never does', async () => {
    const ex = await exchange();
    const answering = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    const silent = await stream(ex, '/stream?streams=btcusdt@kline_1m', false);
    expect(await silent.closed).toEqual({ code: 1008, reason: 'Pong timeout' });
    expect(silent.pings.length).toBeGreaterThanOrEqual(3);
    expect(silent.pings.every((payload) => payload.length > 0)).toBe(true);
    await waitUntil(() => answering.pings.length >= 4, 'four pings');
    expect(answering.socket.readyState).toBe(answering.socket.OPEN);
  });

  it('closes a connection when its lifetime is over', async () => {
    const ex = await exchange({ connectionLifetimeMs: 5_000 });
    const client = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    const openedAt = ex.connections()[0]!.openedAt;
    expect(await client.closed).toEqual({ code: 1000, reason: 'Connection lifetime expired' });
    expect(ex.clock.now() - openedAt).toBeGreaterThanOrEqual(5_000);
  });

  it('announces serverShutdown on the stream, then closes', async () => {
    const ex = await exchange();
    const client = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    expect(ex.faults.serverShutdown({ closeAfterMs: 3_000 })).toBe(1);
    const notice = await client.nextFrame((f) => field(f.json, 'stream') === '!serverShutdown');
    expect(field(notice.json, 'data', 'e')).toBe('serverShutdown');
    expect(await client.closed).toEqual({ code: 1001, reason: 'Server shutdown' });
    expect(ex.clock.now() - eventTime(notice)).toBeGreaterThanOrEqual(3_000);
  });
});

describe('stream faults', () => {
  it('drops a connection without a close frame, or closes it cleanly with a given code', async () => {
    const ex = await exchange();
    const dropped = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    const closed = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    const [first, second] = ex.connections();
    expect(ex.faults.dropConnections(first!.id)).toBe(1);
    expect((await dropped.closed).code).toBe(1006);
    expect(ex.faults.closeConnections(4001, second!.id)).toBe(1);
    expect((await closed.closed).code).toBe(4001);
  });

  it('stalls a connection: no frames and no pings while stalled, frames again after', async () => {
    const ex = await exchange({ klineUpdateIntervalMs: 1000, pingIntervalMs: 5_000 });
    const client = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    await client.nextFrame(isKlineFrame);
    const stallFrom = ex.clock.now();
    ex.faults.stall(30_000);
    const stallUntil = stallFrom + 30_000;
    await client.nextFrame((f) => isKlineFrame(f) && eventTime(f) >= stallUntil, 0, 5_000);
    const during = (time: number): boolean => time > stallFrom + 1_000 && time < stallUntil;
    expect(client.frames.filter(isKlineFrame).some((f) => during(eventTime(f)))).toBe(false);
    expect(client.pings.map(Number).some(during)).toBe(false);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
  });

  it('duplicates, reorders and corrupts frames when asked', async () => {
    const ex = await exchange({ klineUpdateIntervalMs: 1000 });
    ex.faults.duplicateFrames(1);
    const duplicated = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    await waitUntil(() => duplicated.frames.length >= 6, 'six frames');
    expect(duplicated.frames[1]!.text).toBe(duplicated.frames[0]!.text);
    expect(duplicated.frames[3]!.text).toBe(duplicated.frames[2]!.text);
    ex.faults.reset();

    ex.faults.reorderFrames(1);
    const reordered = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    await waitUntil(() => reordered.frames.length >= 4, 'four frames');
    expect(eventTime(reordered.frames[0]!)).toBeGreaterThan(eventTime(reordered.frames[1]!));
    ex.faults.reset();

    ex.faults.malformedFrames(1);
    const corrupted = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    await waitUntil(() => corrupted.frames.filter(isKlineFrame).length >= 4, 'four good frames');
    const bad = corrupted.frames.filter(
      (f) => !isRecord(f.json) || typeof field(f.json, 'stream') !== 'string',
    );
    expect(bad.length).toBeGreaterThan(0);
    expect(corrupted.socket.readyState).toBe(corrupted.socket.OPEN);
  });

  it('refuses with HTTP 400 an upgrade to a target that is no URL path or not valid percent-encoding, and keeps serving', async () => {
    const ex = await exchange();
    await expect(openStream(`${ex.wsUrl}/ws/%ZZ`)).rejects.toThrow('HTTP 400');
    await expect(openStream(`${ex.wsUrl}//`)).rejects.toThrow('HTTP 400');
    const client = await stream(ex, '/ws/btcusdt@kline_1m');
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    expect(ex.stats()).toMatchObject({ connectionsRejected: 2, connectionsAccepted: 1 });
  });

  it('refuses the next upgrades with HTTP 503, then accepts again', async () => {
    const ex = await exchange();
    ex.faults.rejectConnections(1);
    await expect(openStream(`${ex.wsUrl}/stream?streams=btcusdt@kline_1m`)).rejects.toThrow('HTTP 503');
    const client = await stream(ex, '/stream?streams=btcusdt@kline_1m');
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    expect(ex.stats()).toMatchObject({ connectionsRejected: 1, connectionsAccepted: 1 });
  });
});
