import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { HAS_SHARED_FIXTURES, SKIPPED_WITHOUT_FIXTURES, fixturePath } from '../../test/helpers/fixtures.js';
import { ScriptedClock, startScriptedServer, type ScriptedServer } from '../../test/helpers/scripted-http.js';
import { UnavailableError } from '../domain/errors.js';
import { DAY_MS } from '../domain/intervals.js';
import {
  DEFAULT_WAF_BLOCK_PAUSE_MS,
  MAX_RETRIES,
  WEIGHT_WINDOW_SKEW_MS,
  createRestClient,
  type RestClientOptions,
} from './rest-client.js';
import { BinanceApiError, BinanceResponseError, decodeKlinePage } from './rest-wire.js';

const MINUTE = 60_000;
/** 2024-09-21 12:00 UTC; the clock starts 30 s into that minute. */
const T0 = Date.UTC(2024, 8, 21, 12, 0);

/** The sample row of BINANCE.md 3.2 (klines_rest.json): a 1w kline, Monday to Sunday. */
const DOC_ROW = [
  1499040000000,
  '0.01634790',
  '0.80000000',
  '0.01575800',
  '0.01577100',
  '148976.11427815',
  1499644799999,
  '2434.19055334',
  308,
  '1756.87402397',
  '28.46694368',
  '0',
];
const DOC_CANDLE = {
  symbol: 'BNBBTC',
  interval: '1w',
  openTime: 1499040000000,
  closeTime: 1499644799999,
  open: '0.0163479',
  high: '0.8',
  low: '0.015758',
  close: '0.015771',
  volume: '148976.11427815',
  quoteVolume: '2434.19055334',
  trades: 308,
  takerBuyVolume: '1756.87402397',
  takerBuyQuoteVolume: '28.46694368',
  closed: true,
  eventTime: 1,
};
const weekly = { symbol: 'BNBBTC', interval: '1w', intervalMs: 7 * DAY_MS, limit: 1000, serverTime: 2e12 };
/** exchangeInfo_excerpt.json and ticker_24hr_rest.json, cut to the fields read. */
const EXCHANGE_INFO = {
  timezone: 'UTC',
  serverTime: 1565246363776,
  symbols: [
    { symbol: 'ETHBTC', status: 'TRADING', baseAsset: 'ETH', quoteAsset: 'BTC', isSpotTradingAllowed: true },
  ],
};
const ETHBTC = {
  symbol: 'ETHBTC',
  status: 'TRADING',
  baseAsset: 'ETH',
  quoteAsset: 'BTC',
  isSpotTradingAllowed: true,
};
const TICKER = {
  symbol: 'BNBBTC',
  lastPrice: '4.00000200',
  openPrice: '99.00000000',
  highPrice: '100.00000000',
};
const TICKER_ROW = { ...TICKER, lowPrice: '0.10000000', volume: '8913.30000000', quoteVolume: '15.30000000' };
const BNBBTC_TICKER = {
  symbol: 'BNBBTC',
  lastPrice: '4.000002',
  openPrice: '99',
  highPrice: '100',
  lowPrice: '0.1',
};
const BNBBTC_24H = {
  ...BNBBTC_TICKER,
  volume: '8913.3',
  quoteVolume: '15.3',
  count: 76,
  closeTime: 1499869899040,
};

/** A 1m REST row opening at `openTime`, prices rising with `step`. */
function row(openTime: number, step = 0): unknown[] {
  const open = 100 + step;
  const [o, h, l, c] = [open, open + 1, open - 1, open + 0.5].map((p) => p.toFixed(8));
  return [openTime, o, h, l, c, '1.5', openTime + MINUTE - 1, '150.25', 10 + step, '0.75', '75.125', '0'];
}
const rows = (from: number, count: number): unknown[][] =>
  Array.from({ length: count }, (_, i) => row(from + i * MINUTE, i));

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected a rejection');
}

let server: ScriptedServer;
let clock: ScriptedClock;
const client = (options: Partial<RestClientOptions> = {}) =>
  createRestClient({
    baseUrl: server.url,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    ...options,
  });

beforeEach(async () => {
  clock = new ScriptedClock(T0 + 30_000);
  server = await startScriptedServer(() => clock.now());
});
afterEach(() => server.close());

describe('klines', () => {
  it('decodes the documented REST row format into a candle with canonical decimals', () => {
    expect(decodeKlinePage([DOC_ROW], { ...weekly, fetchedAt: 1 })).toEqual([DOC_CANDLE]);
  });

  it.skipIf(!HAS_SHARED_FIXTURES)(
    `reads klines_rest.json as that documented row${SKIPPED_WITHOUT_FIXTURES}`,
    () => {
      const body: unknown = JSON.parse(readFileSync(fixturePath('binance-docs/klines_rest.json'), 'utf8'));
      expect(decodeKlinePage(body, { ...weekly, fetchedAt: 1 })).toEqual([DOC_CANDLE]);
    },
  );

  it('asks for 1m klines of the window and maps rows to closed candles stamped with the fetch time', async () => {
    server.script({ body: rows(T0 - 3 * MINUTE, 3) });
    const candles = await client().klines({
      symbol: 'btcusdt',
      startTime: T0 - 3 * MINUTE,
      endTime: T0,
      limit: 3,
    });
    expect(server.requests[0]?.path).toBe('/api/v3/klines');
    expect(Object.fromEntries(server.requests[0]!.query)).toEqual({
      symbol: 'BTCUSDT',
      interval: '1m',
      startTime: String(T0 - 3 * MINUTE),
      endTime: String(T0),
      limit: '3',
    });
    expect(candles).toHaveLength(3);
    expect(candles[0]).toEqual({
      symbol: 'BTCUSDT',
      interval: '1m',
      openTime: T0 - 3 * MINUTE,
      closeTime: T0 - 2 * MINUTE - 1,
      open: '100',
      high: '101',
      low: '99',
      close: '100.5',
      volume: '1.5',
      quoteVolume: '150.25',
      trades: 10,
      takerBuyVolume: '0.75',
      takerBuyQuoteVolume: '75.125',
      closed: true,
      eventTime: T0 + 30_000,
    });
  });

  it('marks a row closing at or after the server time as still forming', async () => {
    server.script({ body: rows(T0 - MINUTE, 2) });
    const candles = await client().klines({ symbol: 'BTCUSDT', startTime: T0 - MINUTE });
    expect(candles.map((c) => c.closed)).toEqual([true, false]);
  });

  it('takes the earlier of the Date header and the local clock as the server time', async () => {
    clock.time = T0 + 90_000;
    server.script({ body: rows(T0 - MINUTE, 2), headers: { date: new Date(T0 + 30_000).toUTCString() } });
    const candles = await client().klines({ symbol: 'BTCUSDT', startTime: T0 - MINUTE });
    expect(candles.map((c) => c.closed)).toEqual([true, false]);
  });

  it('rejects the weekly sample row, naming row 0, because a 1m kline spans one minute', async () => {
    server.script({ body: [DOC_ROW] });
    const error = await failure(client().klines({ symbol: 'BNBBTC', startTime: 0 }));
    expect(error).toBeInstanceOf(BinanceResponseError);
    expect(error.message).toMatch(/^klines row 0: close time 1499644799999 is not open time \+ 1m - 1 ms$/);
  });

  const broken = (index: number, field: number, value: unknown): unknown[][] => {
    const page = rows(T0 - 5 * MINUTE, 4);
    page[index]![field] = value;
    return page;
  };
  it.each([
    ['a high that is not a decimal string', broken(2, 2, 'abc'), 2, /high "abc" is not a decimal string/],
    ['a price given as a JSON number', broken(1, 1, 100), 1, /open 100 is not a decimal string/],
    ['a negative volume', broken(3, 5, '-1'), 3, /volume -1 is negative/],
    ['a low above the open', broken(0, 3, '100.6'), 0, /open 100 is below low 100.6/],
    ['an open time off the minute', broken(1, 0, T0 - 4 * MINUTE + 1), 1, /is not on a minute/],
    ['a fractional trade count', broken(2, 8, 1.5), 2, /trades 1.5 is not a non-negative integer/],
    ['too few fields', [...rows(T0 - 5 * MINUTE, 1), [T0]], 1, /at least 11 fields/],
    ['open times out of order', [row(T0 - MINUTE), row(T0 - 2 * MINUTE)], 1, /does not follow/],
  ])('rejects the whole page when a row has %s, naming its index', async (_, body, index, reason) => {
    server.script({ body });
    const error = await failure(client().klines({ symbol: 'BTCUSDT', startTime: T0 - 5 * MINUTE }));
    expect(error).toBeInstanceOf(BinanceResponseError);
    expect((error as BinanceResponseError).index).toBe(index);
    expect(error.message).toMatch(new RegExp(`^klines row ${index}: .*${reason.source}`));
  });
});

describe('klinesRange', () => {
  it('pages from `from` with startTime = last open time + 1 minute until a short page comes back', async () => {
    const from = T0 - 60 * MINUTE;
    server.script(
      { body: rows(from, 3) },
      { body: rows(from + 3 * MINUTE, 3) },
      { body: rows(from + 6 * MINUTE, 1) },
    );
    const seen: number[][] = [];
    for await (const page of client().klinesRange({ symbol: 'BTCUSDT', from, to: T0, limit: 3 })) {
      expect(server.requests).toHaveLength(seen.length + 1); // each page arrives before the next is asked for
      seen.push(page.map((c) => c.openTime));
    }
    expect(seen.flat()).toEqual(rows(from, 7).map((r) => r[0]));
    expect(server.requests.map((r) => Number(r.query.get('startTime')))).toEqual([
      from,
      from + 3 * MINUTE,
      from + 6 * MINUTE,
    ]);
    expect(server.requests.every((r) => r.query.get('endTime') === String(T0))).toBe(true);
  });

  it('stops once `to` is reached without asking for a page past it', async () => {
    const from = T0 - 60 * MINUTE;
    server.script({ body: rows(from, 3) }, { body: rows(from + 3 * MINUTE, 3) });
    const pages = [];
    for await (const page of client().klinesRange({
      symbol: 'BTCUSDT',
      from,
      to: from + 5 * MINUTE,
      limit: 3,
    })) {
      pages.push(page);
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3]);
    expect(server.requests).toHaveLength(2);
  });
});

describe('weight budget', () => {
  it('tracks X-MBX-USED-WEIGHT-1M and when the minute window resets', async () => {
    const rest = client();
    server.script({ body: { serverTime: T0 }, headers: { 'x-mbx-used-weight-1m': '124' } });
    await rest.serverTime();
    expect(rest.status()).toMatchObject({ usedWeight: 124, weightLimit: 6000, weightResetsAt: T0 + MINUTE });
  });

  it('waits for the next minute window when a request would pass the limit minus the safety margin', async () => {
    const rest = client();
    server.script(
      { body: [], headers: { 'x-mbx-used-weight-1m': '5398' } },
      { body: [], headers: { 'x-mbx-used-weight-1m': '5400' } }, // 5398 + 2 = 5400 still fits
      { body: [], headers: { 'x-mbx-used-weight-1m': '2' } },
    );
    for (let i = 0; i < 3; i++) await rest.klines({ symbol: 'BTCUSDT', startTime: T0 });
    expect(clock.sleeps).toEqual([MINUTE - 30_000 + WEIGHT_WINDOW_SKEW_MS]);
    expect(server.requests[2]!.at).toBe(T0 + MINUTE + WEIGHT_WINDOW_SKEW_MS);
    expect(rest.status().usedWeight).toBe(2);
  });

  it('reserves weight before sending, so a concurrent caller waits even before the first answer', async () => {
    clock = new ScriptedClock(T0 + 30_000, 'manual');
    const rest = client({ weightLimit: 100, weightSafetyMargin: 0 });
    let answerFirst = (): void => {};
    server.script(
      (_, response) => {
        answerFirst = () => response.writeHead(200, { 'x-mbx-used-weight-1m': '80' }).end('[]');
      },
      { body: [] },
    );
    const first = rest.ticker24h();
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    const second = rest.ticker24h();
    await vi.waitFor(() => expect(clock.sleeping).toBe(1));
    expect(rest.status().usedWeight).toBe(80);
    answerFirst();
    await first;
    expect(server.requests).toHaveLength(1);
    clock.advance(MINUTE);
    await expect(second).resolves.toMatchObject({ items: [] });
    expect(server.requests[1]!.at).toBe(T0 + 90_000);
  });
});

describe('429 and 418', () => {
  it.each([
    { status: 429, retryAfter: '7', pauseMs: 7000, counter: 'rateLimited' },
    { status: 418, retryAfter: '300', pauseMs: 300_000, counter: 'bans' },
  ])(
    'a $status pauses every call, a concurrent one too, for Retry-After seconds, then retries and succeeds',
    async ({ status, retryAfter, pauseMs, counter }) => {
      clock = new ScriptedClock(T0 + 30_000, 'manual');
      const rest = client();
      server.script({
        status,
        body: { code: -1003, msg: 'Too much request weight used' },
        headers: { 'retry-after': retryAfter },
      });
      server.script({ body: { serverTime: 1 } }, { body: { serverTime: 2 } });
      const first = rest.serverTime();
      await vi.waitFor(() => expect(clock.sleeping).toBe(1));
      expect(rest.status()).toMatchObject({ pausedUntil: T0 + 30_000 + pauseMs, [counter]: 1 });
      clock.advance(1000);
      const second = rest.serverTime();
      await vi.waitFor(() => expect(clock.sleeping).toBe(2));
      expect(clock.sleeps).toEqual([pauseMs, pauseMs - 1000]);
      expect(server.requests).toHaveLength(1);
      clock.advance(pauseMs);
      expect((await Promise.all([first, second])).sort()).toEqual([1, 2]);
      expect(server.requests.slice(1).every((r) => r.at >= T0 + 30_000 + pauseMs)).toBe(true);
      expect(rest.status()).toMatchObject({
        pausedUntil: null,
        retries: 1,
        lastError: { status, binanceCode: -1003 },
      });
    },
  );

  it.each([
    [429, 60_000],
    [418, 120_000],
  ])('a %i without Retry-After pauses for the default %i ms', async (status, pauseMs) => {
    server.script({ status, body: {} }, { body: { serverTime: 5 } });
    await expect(client().serverTime()).resolves.toBe(5);
    expect(clock.sleeps).toEqual([pauseMs]);
  });
});

describe('retries', () => {
  it('retries a 5xx with full-jitter exponential backoff, then succeeds', async () => {
    server.script({ status: 503, body: '' }, { status: 502, body: '<html>' }, { body: { serverTime: 5 } });
    const rest = client();
    await expect(rest.serverTime()).resolves.toBe(5);
    expect(clock.sleeps).toEqual([500, 1000]); // random 0.5 × 1 s, 0.5 × 2 s
    expect(rest.status()).toMatchObject({ requests: 3, retries: 2, lastError: { status: 502 } });
  });

  it('caps the backoff ceiling at 30 s', async () => {
    server.script(...Array.from({ length: 7 }, () => ({ status: 500 })), { body: { serverTime: 5 } });
    await client({ random: () => 0.99, maxRetries: 7 }).serverTime();
    expect(clock.sleeps).toEqual([990, 1980, 3960, 7920, 15840, 29700, 29700]);
  });

  it('gives up after MAX_RETRIES retries of a 5xx with the last BinanceApiError', async () => {
    server.script(
      ...Array.from({ length: MAX_RETRIES + 1 }, () => ({ status: 500, body: { code: -1000, msg: 'x' } })),
    );
    const error = await failure(client().serverTime());
    expect(error).toBeInstanceOf(BinanceApiError);
    expect(error).toMatchObject({ status: 500, binanceCode: -1000 });
    expect(server.requests).toHaveLength(MAX_RETRIES + 1);
  });

  it('retries a request the server never answers once it times out', async () => {
    server.script('hang', { body: { serverTime: 5 } });
    const rest = client({ requestTimeoutMs: 100 });
    await expect(rest.serverTime()).resolves.toBe(5);
    expect(server.requests).toHaveLength(2);
    expect(rest.status().lastError).toMatchObject({
      status: 0,
      message: '/api/v3/time: no answer within 100 ms',
    });
  });

  it('says why the exchange could not be reached, not only that fetch failed', async () => {
    const closed = await startScriptedServer(() => clock.now());
    await closed.close();
    const rest = client({ baseUrl: closed.url });
    const error = await failure(rest.serverTime());
    expect(error.message).toMatch(
      /^\/api\/v3\/time: network error: TypeError: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/,
    );
  });

  it('retries -1008 SERVER_BUSY whatever its status', async () => {
    server.script(
      { status: 400, body: { code: -1008, msg: 'Server is currently overloaded' } },
      { body: { serverTime: 5 } },
    );
    await expect(client().serverTime()).resolves.toBe(5);
  });
});

describe('errors that are not retried', () => {
  it('raises 400 -1121 Invalid symbol as a BinanceApiError at once', async () => {
    server.script({ status: 400, body: { code: -1121, msg: 'Invalid symbol.' } });
    const rest = client();
    const error = await failure(rest.klines({ symbol: 'NOPEUSDT', startTime: T0 }));
    expect(error).toMatchObject({ name: 'BinanceApiError', status: 400, binanceCode: -1121 });
    expect(error.message).toBe('/api/v3/klines: request failed (HTTP 400 -1121: Invalid symbol.)');
    expect(server.requests).toHaveLength(1);
    expect(rest.status()).toMatchObject({ retries: 0, lastError: { binanceCode: -1121 } });
  });

  it.skipIf(!HAS_SHARED_FIXTURES)(
    `reads error_response.json as that error${SKIPPED_WITHOUT_FIXTURES}`,
    async () => {
      server.script({
        status: 400,
        body: readFileSync(fixturePath('binance-docs/error_response.json'), 'utf8'),
      });
      await expect(client().serverTime()).rejects.toMatchObject({ status: 400, binanceCode: -1121 });
    },
  );

  it('raises a 403 as a WAF block at once', async () => {
    server.script({ status: 403, body: '<html>Forbidden</html>' });
    const error = await failure(client().serverTime());
    expect(error).toMatchObject({
      status: 403,
      binanceCode: undefined,
      message: '/api/v3/time: blocked by the WAF (HTTP 403)',
    });
    expect(server.requests).toHaveLength(1);
  });

  it('pauses every other call for a minute after a 403, so they do not all meet the block', async () => {
    clock = new ScriptedClock(T0 + 30_000, 'manual');
    const rest = client();
    server.script({ status: 403, body: '<html>Forbidden</html>' }, { body: { serverTime: 2 } });
    await expect(rest.serverTime()).rejects.toMatchObject({ status: 403 });
    expect(rest.status()).toMatchObject({ pausedUntil: T0 + 30_000 + DEFAULT_WAF_BLOCK_PAUSE_MS });
    const next = rest.serverTime();
    await vi.waitFor(() => expect(clock.sleeping).toBe(1));
    expect(server.requests).toHaveLength(1);
    clock.advance(DEFAULT_WAF_BLOCK_PAUSE_MS);
    await expect(next).resolves.toBe(2);
    expect(server.requests[1]!.at).toBe(T0 + 30_000 + DEFAULT_WAF_BLOCK_PAUSE_MS);
  });

  it('waits out the Retry-After of a 403 when it carries one', async () => {
    server.script(
      { status: 403, body: '<html>Forbidden</html>', headers: { 'retry-after': '5' } },
      { body: { serverTime: 2 } },
    );
    const rest = client();
    await expect(rest.serverTime()).rejects.toMatchObject({ status: 403 });
    await expect(rest.serverTime()).resolves.toBe(2);
    expect(clock.sleeps).toEqual([5000]);
  });

  it('refuses calls beyond the pending limit instead of queueing them', async () => {
    const controller = new AbortController();
    const rest = client({ maxPendingRequests: 1, signal: controller.signal });
    server.script('hang');
    const first = failure(rest.serverTime());
    await expect(rest.serverTime()).rejects.toBeInstanceOf(UnavailableError);
    controller.abort();
    expect((await first).name).toBe('AbortError');
  });
});

describe('abort', () => {
  it('stops waiting out a pause and sends nothing more', async () => {
    clock = new ScriptedClock(T0, 'manual');
    const controller = new AbortController();
    server.script({ status: 429, headers: { 'retry-after': '60' } });
    const call = failure(client({ signal: controller.signal }).serverTime());
    await vi.waitFor(() => expect(clock.sleeping).toBe(1));
    controller.abort();
    expect((await call).name).toBe('AbortError');
    expect(server.requests).toHaveLength(1);
  });

  it('cancels a request in flight', async () => {
    const controller = new AbortController();
    server.script('hang');
    const call = failure(client({ signal: controller.signal }).serverTime());
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    controller.abort();
    expect((await call).name).toBe('AbortError');
  });
});

describe('exchangeInfo, ticker24h and time', () => {
  it('asks exchangeInfo for TRADING spot symbols and maps them', async () => {
    server.script({ body: EXCHANGE_INFO });
    const info = await client().exchangeInfo();
    expect(info).toEqual({ items: [ETHBTC], skipped: 0, skipExamples: [], serverTime: 1565246363776 });
    expect(server.requests[0]?.query.toString()).toBe(
      'permissions=SPOT&symbolStatus=TRADING&showPermissionSets=false',
    );
  });

  it.skipIf(!HAS_SHARED_FIXTURES)(`maps exchangeInfo_excerpt.json${SKIPPED_WITHOUT_FIXTURES}`, async () => {
    server.script({ body: readFileSync(fixturePath('binance-docs/exchangeInfo_excerpt.json'), 'utf8') });
    await expect(client().exchangeInfo()).resolves.toMatchObject({ items: [ETHBTC], skipped: 0 });
  });

  it('calls exchangeInfo without filters when given none', async () => {
    server.script({ body: EXCHANGE_INFO });
    await client().exchangeInfo({});
    expect(server.requests[0]?.query.size).toBe(0);
  });

  it('keeps unknown statuses and fields, and skips and counts a malformed symbol', async () => {
    const odd = {
      ...ETHBTC,
      symbol: 'ABCUSDT',
      status: 'SOMETHING_NEW',
      newField: [1],
      isSpotTradingAllowed: undefined,
    };
    server.script({ body: { symbols: [odd, { symbol: 42 }, { ...ETHBTC, status: 'CANCEL_ONLY' }] } });
    const info = await client().exchangeInfo();
    expect(info.items).toEqual([
      {
        symbol: 'ABCUSDT',
        status: 'SOMETHING_NEW',
        baseAsset: 'ETH',
        quoteAsset: 'BTC',
        isSpotTradingAllowed: true,
      },
      { ...ETHBTC, status: 'CANCEL_ONLY' },
    ]);
    expect(info).toMatchObject({
      skipped: 1,
      skipExamples: ['exchangeInfo symbols entry 1: symbol 42 is not a symbol'],
    });
  });

  it("maps all symbols' 24 h statistics to canonical decimals", async () => {
    server.script({ body: [{ ...TICKER_ROW, count: 76, closeTime: 1499869899040 }, { symbol: 'X' }] });
    const tickers = await client().ticker24h();
    expect(tickers).toMatchObject({ items: [BNBBTC_24H], skipped: 1 });
    expect(server.requests[0]?.path).toBe('/api/v3/ticker/24hr');
  });

  it.skipIf(!HAS_SHARED_FIXTURES)(`maps ticker_24hr_rest.json${SKIPPED_WITHOUT_FIXTURES}`, async () => {
    server.script({ body: readFileSync(fixturePath('binance-docs/ticker_24hr_rest.json'), 'utf8') });
    await expect(client().ticker24h()).resolves.toEqual({
      items: [BNBBTC_24H],
      skipped: 0,
      skipExamples: [],
    });
  });

  it('reads the server time', async () => {
    server.script({ body: { serverTime: 1499827319559 } });
    await expect(client().serverTime()).resolves.toBe(1499827319559);
    expect(server.requests[0]?.path).toBe('/api/v3/time');
  });
});
