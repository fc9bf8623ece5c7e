/**
 * Admin symbol routes (issue 5): adding symbols one by one or in bulk and starting or stopping
 * their tracking, admin only; and an added symbol streaming at once, without a restart, through
 * the live link against the simulated exchange.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { createSimulatedExchange } from '../src/binance/simulator/index.js';
import { loadConfig } from '../src/config.js';
import { MAX_BULK_SYMBOLS } from '../src/http/routes/symbols.js';
import { SYMBOL_POLL_INTERVAL_MS } from '../src/market/live-link.js';
import { startService } from '../src/service.js';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/app.js';
import { startHarness, type Harness } from './helpers/live-harness.js';
import { call, login, registerUser } from './helpers/http.js';

const ADMIN = { email: 'admin@example.com', password: 'admin-password-123' };

async function waitFor(check: () => Promise<boolean> | boolean, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`not within ${limitMs} ms`);
}

interface SymbolJson {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  status: string;
  isActive: boolean;
  createdAt: number;
}

async function adminToken(t: TestApp): Promise<string> {
  const answer = await login(t.app, ADMIN.email, ADMIN.password);
  expect(answer.status).toBe(200);
  return answer.body.data.accessToken;
}

describe('admin symbol routes', () => {
  let t: TestApp;
  let admin: string;
  let changes: number;
  beforeEach(async () => {
    changes = 0;
    t = await createTestApp({
      auth: { jwtSecret: TEST_JWT_SECRET, admin: ADMIN },
      onSymbolsChanged: () => changes++,
    });
    admin = await adminToken(t);
    await t.store.insertSymbolsIfMissing([
      { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
    ]);
  });
  afterEach(async () => {
    await t.app.close();
  });

  const writes = [
    { method: 'POST', path: '/symbols', body: { symbol: 'ETHUSDT' } },
    { method: 'POST', path: '/symbols/bulk', body: { symbols: ['ETHUSDT'] } },
    { method: 'PATCH', path: '/symbols/BTCUSDT', body: { isActive: false } },
  ] as const;

  it('answers 401 without a token or with an invalid one, and 403 for a user, changing nothing', async () => {
    const { accessToken: user } = await registerUser(t.app);
    for (const { method, path, body } of writes) {
      expect((await call(t.app, method, path, { body })).status, path).toBe(401);
      expect((await call(t.app, method, path, { body, token: 'x.y.z' })).status, path).toBe(401);
      const forbidden = await call(t.app, method, path, { body, token: user });
      expect(forbidden.status, path).toBe(403);
      expect(forbidden.body).toMatchObject({ success: false, statusCode: 403 });
    }
    expect((await t.store.listSymbols()).map((s) => [s.symbol, s.isActive])).toEqual([['BTCUSDT', true]]);
    expect(changes).toBe(0);
  });

  it('adds a symbol with its assets read from the name, answers 201, and 409 when it exists', async () => {
    const created = await call<SymbolJson>(t.app, 'POST', '/symbols', {
      token: admin,
      body: { symbol: ' ethusdt ' },
    });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({
      symbol: 'ETHUSDT',
      baseAsset: 'ETH',
      quoteAsset: 'USDT',
      status: 'TRADING',
      isActive: true,
    });
    expect(await t.store.getSymbol('ETHUSDT')).toEqual(created.body.data);
    expect(changes).toBe(1);

    const again = await call(t.app, 'POST', '/symbols', { token: admin, body: { symbol: 'ETHUSDT' } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ success: false, statusCode: 409 });
    expect(changes).toBe(1);
  });

  it('keeps the assets and the inactive flag an admin gives', async () => {
    const created = await call<SymbolJson>(t.app, 'POST', '/symbols', {
      token: admin,
      body: { symbol: 'XYZABC', baseAsset: 'xyz', quoteAsset: 'ABC', isActive: false },
    });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({ baseAsset: 'XYZ', quoteAsset: 'ABC', isActive: false });
  });

  it('adds symbols in bulk from names and objects, skipping those that exist', async () => {
    const answer = await call<{ created: string[]; skipped: string[] }>(t.app, 'POST', '/symbols/bulk', {
      token: admin,
      body: { symbols: ['BTCUSDT', 'ethusdt', { symbol: 'SOLUSDT', isActive: false }, 'ETHUSDT'] },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.data).toEqual({ created: ['ETHUSDT', 'SOLUSDT'], skipped: ['BTCUSDT'] });
    expect(await t.store.getSymbol('SOLUSDT')).toMatchObject({ baseAsset: 'SOL', isActive: false });
    expect(changes).toBe(1);
  });

  it('refuses an empty bulk list, one longer than MAX_BULK_SYMBOLS, and a bad entry, naming it', async () => {
    const tooMany = Array.from({ length: MAX_BULK_SYMBOLS + 1 }, (_, i) => `S${i}USDT`);
    for (const symbols of [[], tooMany]) {
      const answer = await call(t.app, 'POST', '/symbols/bulk', { token: admin, body: { symbols } });
      expect(answer.status).toBe(400);
      expect(answer.body.errorSources?.[0]?.path).toBe('symbols');
    }
    const bad = await call(t.app, 'POST', '/symbols/bulk', {
      token: admin,
      body: { symbols: ['ETHUSDT', 'not a symbol!'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errorSources?.[0]?.path).toBe('symbols.1');
    expect(await t.store.getSymbol('ETHUSDT')).toBeUndefined();
  });

  it('names the bad field of an object entry in a bulk list', async () => {
    const answer = await call(t.app, 'POST', '/symbols/bulk', {
      token: admin,
      body: { symbols: [{ symbol: 'SOLUSDT', isActive: 'yes' }] },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.errorSources?.map((issue) => issue.path)).toEqual(['symbols.0.isActive']);
    expect(await t.store.getSymbol('SOLUSDT')).toBeUndefined();
    expect(changes).toBe(0);
  });

  it('refuses a symbol whose quote asset is neither given nor readable from its name', async () => {
    const single = await call(t.app, 'POST', '/symbols', { token: admin, body: { symbol: 'FOOBAR' } });
    expect(single.status).toBe(400);
    expect(single.body.errorSources?.map((issue) => issue.path)).toEqual(['quoteAsset']);
    for (const entry of ['FOOBAR', { symbol: 'FOOBAR', isActive: false }]) {
      const bulk = await call(t.app, 'POST', '/symbols/bulk', {
        token: admin,
        body: { symbols: ['ETHUSDT', entry] },
      });
      expect(bulk.status, JSON.stringify(entry)).toBe(400);
      expect(bulk.body.errorSources?.map((issue) => issue.path)).toEqual(['symbols.1.quoteAsset']);
    }
    expect((await t.store.listSymbols()).map((s) => s.symbol)).toEqual(['BTCUSDT']);
    expect(changes).toBe(0);

    const given = await call<SymbolJson>(t.app, 'POST', '/symbols', {
      token: admin,
      body: { symbol: 'FOOBAR', baseAsset: 'FOO', quoteAsset: 'BAR' },
    });
    expect(given.status).toBe(201);
    expect(given.body.data).toMatchObject({ symbol: 'FOOBAR', baseAsset: 'FOO', quoteAsset: 'BAR' });
  });

  it('reads the missing asset from the name around the given one, and refuses assets that do not spell the symbol', async () => {
    for (const [body, base, quote] of [
      [{ symbol: 'FOOBAR', quoteAsset: 'BAR' }, 'FOO', 'BAR'],
      [{ symbol: 'FOOBAZ', baseAsset: 'fo' }, 'FO', 'OBAZ'],
      [{ symbol: 'ETHUSDT' }, 'ETH', 'USDT'],
    ] as const) {
      const created = await call<SymbolJson>(t.app, 'POST', '/symbols', { token: admin, body });
      expect(created.status, JSON.stringify(body)).toBe(201);
      expect(created.body.data).toMatchObject({ symbol: body.symbol, baseAsset: base, quoteAsset: quote });
    }
    for (const [body, path] of [
      [{ symbol: 'SOLUSDT', quoteAsset: 'BTC' }, 'quoteAsset'],
      [{ symbol: 'SOLUSDT', baseAsset: 'ETH' }, 'baseAsset'],
      [{ symbol: 'SOLUSDT', baseAsset: 'SOLUSDT' }, 'baseAsset'],
      [{ symbol: 'SOLUSDT', quoteAsset: 'SOLUSDT' }, 'quoteAsset'],
      [{ symbol: 'SOLUSDT', baseAsset: 'SO', quoteAsset: 'USDT' }, 'quoteAsset'],
    ] as const) {
      const refused = await call(t.app, 'POST', '/symbols', { token: admin, body });
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.errorSources?.map((issue) => issue.path)).toEqual([path]);
    }
    expect(await t.store.getSymbol('SOLUSDT')).toBeUndefined();
  });

  it('names a too-long symbol once, alone or in a bulk list', async () => {
    const long = `${'A'.repeat(40)}USDT`;
    const single = await call(t.app, 'POST', '/symbols', { token: admin, body: { symbol: long } });
    expect(single.status).toBe(400);
    expect(single.body.errorSources?.map((issue) => issue.path)).toEqual(['symbol']);
    const bulk = await call(t.app, 'POST', '/symbols/bulk', { token: admin, body: { symbols: [long] } });
    expect(bulk.status).toBe(400);
    expect(bulk.body.errorSources?.map((issue) => issue.path)).toEqual(['symbols.0']);
  });

  it('stops and starts tracking with PATCH, and answers 404 for an unknown symbol', async () => {
    const stopped = await call<SymbolJson>(t.app, 'PATCH', '/symbols/btcusdt', {
      token: admin,
      body: { isActive: false },
    });
    expect(stopped.status).toBe(200);
    expect(stopped.body.data).toMatchObject({ symbol: 'BTCUSDT', isActive: false });
    expect((await t.store.getSymbol('BTCUSDT'))?.isActive).toBe(false);
    const started = await call(t.app, 'PATCH', '/symbols/BTCUSDT', {
      token: admin,
      body: { isActive: true },
    });
    expect((await t.store.getSymbol('BTCUSDT'))?.isActive).toBe(true);
    expect(started.status).toBe(200);
    expect(changes).toBe(2);

    const unknown = await call(t.app, 'PATCH', '/symbols/NOPEUSDT', {
      token: admin,
      body: { isActive: true },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ success: false, statusCode: 404 });
    expect(changes).toBe(2);
  });

  it('refuses unknown fields and values of the wrong type, naming them', async () => {
    const cases = [
      { method: 'POST', path: '/symbols', body: { symbol: 'ETHUSDT', status: 'HALT' }, field: 'status' },
      { method: 'POST', path: '/symbols', body: { symbol: { $ne: null } }, field: 'symbol' },
      { method: 'POST', path: '/symbols', body: { symbol: 'ETHUSDT', isActive: 'yes' }, field: 'isActive' },
      { method: 'PATCH', path: '/symbols/BTCUSDT', body: { isActive: { $ne: false } }, field: 'isActive' },
      { method: 'PATCH', path: '/symbols/BTCUSDT', body: {}, field: 'isActive' },
    ] as const;
    for (const { method, path, body, field } of cases) {
      const answer = await call(t.app, method, path, { token: admin, body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.errorSources?.map((issue) => issue.path)).toContain(field);
    }
    expect(await t.store.listSymbols()).toHaveLength(1);
    expect(changes).toBe(0);
  });
});

describe('a symbol added by an admin', () => {
  let harness: Harness | undefined;
  let t: TestApp | undefined;
  afterEach(async () => {
    await harness?.stop();
    await t?.app.close();
    harness = undefined;
    t = undefined;
  });

  it('starts streaming without a restart, long before the link would poll the store again', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.insertSymbolsIfMissing([
      { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
      { symbol: 'ETHUSDT', baseAsset: 'ETH', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
    ]);
    // No SYMBOLS list, and a poll far beyond the test: only the admin hook can make the link look.
    harness = await startHarness({ store, link: { symbols: undefined, pollIntervalMs: 10 * 60_000 } });
    const link = harness.parts.link;
    t = await createTestApp({
      store,
      live: link,
      auth: { jwtSecret: TEST_JWT_SECRET, admin: ADMIN },
      onSymbolsChanged: () => void link.refreshSymbols(),
    });
    await waitFor(() => link.tracked().length === 2 && link.status().binance.state === 'connected', 10_000);

    const admin = await adminToken(t);
    const created = await call(t.app, 'POST', '/symbols', { token: admin, body: { symbol: 'SOLUSDT' } });
    expect(created.status).toBe(201);
    await waitFor(() => link.tracked().includes('SOLUSDT'), 5_000);
    // Its history is repaired and its live candles stored, as for any tracked symbol.
    await waitFor(async () => (await store.candleSpan('SOLUSDT')) !== undefined, 10_000);

    const stopped = await call(t.app, 'PATCH', '/symbols/ETHUSDT', {
      token: admin,
      body: { isActive: false },
    });
    expect(stopped.status).toBe(200);
    await waitFor(() => !link.tracked().includes('ETHUSDT'), 5_000);
    expect([...link.tracked()].sort()).toEqual(['BTCUSDT', 'SOLUSDT']);
  });

  it('is tracked at once by the running service, whose hook calls the live link, and Socket.IO follows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'admin-service-'));
    const path = join(dir, 'market.db');
    const seed = new SqliteStore({ path });
    await seed.insertSymbolsIfMissing([
      { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
    ]);
    await seed.close();
    const exchange = await createSimulatedExchange({
      symbols: ['BTCUSDT', 'ETHUSDT'],
      includeUniverseExtras: false,
      seed: 11,
    });
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: `sqlite:${path}`,
      BINANCE_WS_URL: exchange.wsUrl,
      BINANCE_REST_URL: exchange.restUrl,
      BACKFILL_LOOKBACK: '10m',
      JWT_SECRET: TEST_JWT_SECRET,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    const service = await startService(config, pino({ level: 'silent' }));
    let client: Socket | undefined;
    try {
      await waitFor(() => service.link.tracked().length === 1, 10_000);
      const post = (path: string, body: unknown, token?: string) =>
        fetch(`${service.url}/api/v1${path}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify(body),
        });
      client = connect(service.url, { transports: ['websocket'] });
      const allSymbols = async () =>
        ((await client!.emitWithAck('get_all_symbols')) as { data: { symbols: string[] } }).data.symbols;
      expect(await allSymbols()).toEqual(['BTCUSDT']);
      expect(await client.emitWithAck('subscribe', { symbol: 'ETHUSDT' })).toMatchObject({ success: false });

      const session = (await (await post('/users/login', ADMIN)).json()) as { data: { accessToken: string } };
      expect((await post('/symbols', { symbol: 'ETHUSDT' }, session.data.accessToken)).status).toBe(201);
      // A fifth of a poll period: the hook, not the next poll, made the link look (a poll could
      // only fall in this window one time in five).
      await waitFor(() => service.link.tracked().includes('ETHUSDT'), SYMBOL_POLL_INTERVAL_MS / 5);
      // Socket.IO's universe follows: the new symbol is listed, and its prices stream to subscribers.
      expect((await allSymbols()).sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
      const update = new Promise<{ symbol: string; price: number; timestamp: number }>((resolve) =>
        client!.on('price_update', (data: { symbol: string; price: number; timestamp: number }) => {
          if (data.symbol === 'ETHUSDT') resolve(data);
        }),
      );
      expect(await client.emitWithAck('subscribe', { symbol: 'ETHUSDT' })).toMatchObject({ success: true });
      const price = await update;
      const ticker = exchange.market.ticker24h('ETHUSDT', price.timestamp - 1);
      expect(price.price).toBe(Number.parseFloat(ticker.lastPrice));

      const patch = await fetch(`${service.url}/api/v1/symbols/ETHUSDT`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${session.data.accessToken}` },
        body: JSON.stringify({ isActive: false }),
      });
      expect(patch.status).toBe(200);
      expect(await allSymbols()).toEqual(['BTCUSDT']);
      await waitFor(() => !service.link.tracked().includes('ETHUSDT'), SYMBOL_POLL_INTERVAL_MS / 5);
    } finally {
      client?.close();
      await service.stop();
      await exchange.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
