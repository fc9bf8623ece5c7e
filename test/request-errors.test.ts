/**
 * Bad requests answered in the envelope of SPEC section 5: one 400 naming every bad field of the
 * path, the body and the query together, with the checks across fields still made beside a field
 * of the wrong type; and what Fastify would otherwise answer by itself (an undecodable URL, an
 * over-long path segment, an OPTIONS request that is no preflight, a request arriving while the
 * app closes); and 503 for a write the SQLite file cannot take now.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { MAX_PATH_PARAM_CHARS } from '../src/http/limits.js';
import { closingAfterEach, createTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/app.js';
import { call, login, type Answer } from './helpers/http.js';

const ADMIN = { email: 'admin@example.com', password: 'admin-password-123' };

const paths = (answer: Answer<unknown>): string[] =>
  (answer.body.errorSources ?? []).map((source) => source.path).sort();

describe('one 400 for every bad field', () => {
  let t: TestApp;
  let admin: string;
  beforeEach(async () => {
    t = await createTestApp({ auth: { jwtSecret: TEST_JWT_SECRET, admin: ADMIN } });
    admin = (await login(t.app, ADMIN.email, ADMIN.password)).body.data.accessToken;
    await t.store.insertSymbolsIfMissing([
      { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
    ]);
  });
  afterEach(async () => {
    await t.app.close();
  });

  it('names a bad symbol in the path and a bad field of the body together', async () => {
    const answer = await call(t.app, 'PATCH', '/symbols/B$D', { token: admin, body: { isActive: 'yes' } });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ success: false, statusCode: 400 });
    expect(paths(answer)).toEqual(['isActive', 'symbol']);
  });

  it('names assets that do not spell the symbol beside a field of the wrong type, each asset on its own', async () => {
    for (const [body, fields] of [
      [{ symbol: 'BTCUSDT', baseAsset: 'ETH', isActive: 'yes' }, ['baseAsset', 'isActive']],
      [{ symbol: 'BTCUSDT', baseAsset: 'ETH', quoteAsset: 'BNB' }, ['baseAsset', 'quoteAsset']],
      [{ symbol: 'BTCUSDT', quoteAsset: 'BNB', status: 'HALT' }, ['quoteAsset', 'status']],
    ] as const) {
      const answer = await call(t.app, 'POST', '/symbols', { token: admin, body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(paths(answer), JSON.stringify(body)).toEqual(fields);
    }
    const bulk = await call(t.app, 'POST', '/symbols/bulk', {
      token: admin,
      body: { symbols: ['ETHUSDT', { symbol: 'SOLUSDT', baseAsset: 'ETH', isActive: 'yes' }] },
    });
    expect(bulk.status).toBe(400);
    expect(paths(bulk)).toEqual(['symbols.1.baseAsset', 'symbols.1.isActive']);
    expect((await t.store.listSymbols()).map((s) => s.symbol)).toEqual(['BTCUSDT']);
  });

  it('names a field that failed once, never also as not matching the fields beside it', async () => {
    for (const [body, fields] of [
      [{ symbol: 'FOOBAR', baseAsset: 'F-O' }, ['baseAsset']],
      [{ symbol: 'BTC-USDT', baseAsset: 'ETH', quoteAsset: 'BNB' }, ['symbol']],
    ] as const) {
      const answer = await call(t.app, 'POST', '/symbols', { token: admin, body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(paths(answer), JSON.stringify(body)).toEqual(fields);
    }
  });
});

describe("Fastify's own refusals, in the envelope", () => {
  const open = closingAfterEach();

  it('answers 400 naming the URL for a malformed percent-encoding', async () => {
    const t = await open();
    const answer = await call(t.app, 'GET', '/price-data/%zz', {
      headers: { origin: 'https://dash.example' },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toContain('application/json');
    // As on every other answer: a browser front end reads the 400 instead of a CORS failure.
    expect(answer.headers['access-control-allow-origin']).toBe('*');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.body).toEqual({
      success: false,
      statusCode: 400,
      message: 'invalid URL',
      errorSources: [{ path: 'url', message: expect.stringMatching(/percent-encoding/) as string }],
    });
  });

  it("counts the router's own refusals in http_request_duration_seconds, as every other answer", async () => {
    const t = await open();
    expect((await call(t.app, 'GET', '/price-data/%zz')).status).toBe(400);
    expect((await call(t.app, 'GET', `/price-data/${'A'.repeat(MAX_PATH_PARAM_CHARS + 1)}`)).status).toBe(
      414,
    );
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(
      /^http_request_duration_seconds_count\{method="GET",route="unmatched",status="400"\} 1$/m,
    );
    expect(metrics).toMatch(
      /^http_request_duration_seconds_count\{method="GET",route="unmatched",status="414"\} 1$/m,
    );
  });

  it('allows only the configured origins to read a refused URL, as CORS_ORIGINS does elsewhere', async () => {
    const t = await open({ corsOrigins: ['https://dash.example'] });
    const allowed = await call(t.app, 'GET', '/price-data/%zz', {
      headers: { origin: 'https://dash.example' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://dash.example');
    expect(allowed.headers.vary).toContain('Origin');
    const other = await call(t.app, 'GET', '/price-data/%zz', {
      headers: { origin: 'https://evil.example' },
    });
    expect(other.status).toBe(400);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 414 in the envelope for a path segment longer than MAX_PATH_PARAM_CHARS', async () => {
    const t = await open();
    const longest = await call(t.app, 'GET', `/price-data/${'A'.repeat(MAX_PATH_PARAM_CHARS)}`);
    expect(longest.status).toBe(400);
    expect(paths(longest)).toEqual(['symbol']);
    const tooLong = await call(t.app, 'GET', `/price-data/${'A'.repeat(MAX_PATH_PARAM_CHARS + 1)}`);
    expect(tooLong.status).toBe(414);
    expect(tooLong.body).toMatchObject({ success: false, statusCode: 414, errorSources: [{ path: 'url' }] });
  });

  it('answers 400 naming the missing headers for an OPTIONS request that is no CORS preflight, and 204 to a preflight', async () => {
    const t = await open();
    const bare = await call(t.app, 'OPTIONS', '/symbols');
    expect(bare.status).toBe(400);
    expect(bare.headers['content-type']).toContain('application/json');
    expect(bare.body).toMatchObject({ success: false, statusCode: 400 });
    expect(paths(bare)).toEqual(['access-control-request-method', 'origin']);
    const originOnly = await call(t.app, 'OPTIONS', '/symbols', { headers: { origin: 'https://a.example' } });
    expect(paths(originOnly)).toEqual(['access-control-request-method']);

    const preflight = await call(t.app, 'OPTIONS', '/symbols', {
      headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-methods']).toContain('POST');
  });

  it('answers 503 in the envelope to a request arriving on a kept-alive connection while the app closes', async () => {
    const t = await createTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const socketClosed = once(socket, 'close');
    await once(socket, 'connect');

    // The first request is in flight (its body half sent) when closing begins, so the server
    // waits for it and keeps the connection; the second one arrives on it after that.
    const body = JSON.stringify({ email: 'a@example.com', password: 'whatever' });
    const firstArrived = once(t.app.server, 'request');
    socket.write(
      `POST /api/v1/users/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await firstArrived;
    await new Promise((resolve) => setImmediate(resolve)); // its onRequest hooks have run
    const closed = t.app.close();
    // The listening socket is closed right after the preClose hooks: closing has begun.
    while (t.app.server.listening) await new Promise((resolve) => setImmediate(resolve));
    socket.write(`${body.slice(5)}GET /api/v1/system/health HTTP/1.1\r\nHost: test\r\n\r\n`);
    await closed;
    await socketClosed;

    const answers = received.split(/(?=HTTP\/1\.1 \d{3} )/);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 401 /);
    const [head = '', json = ''] = answers[1]?.split('\r\n\r\n') ?? [];
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head).toMatch(/^content-type: application\/json/im);
    expect(JSON.parse(json)).toEqual({
      success: false,
      statusCode: 503,
      message: 'the service is shutting down',
      errorSources: [],
    });
  });
});

describe('a write the store cannot take now', () => {
  const open = closingAfterEach();
  const dir = mkdtempSync(join(tmpdir(), 'busy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers 503 in the envelope while another instance holds the SQLite file, and writes once it lets go', async () => {
    const path = join(dir, 'market.db');
    const t = await open({ store: new SqliteStore({ path, busyTimeoutMs: 100 }) });
    // Another instance on the same file, in the middle of a long write.
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const body = { name: 'Ada', email: 'ada@example.com', password: 'a-long-enough-password' };
      const refused = await call(t.app, 'POST', '/users/register', { body });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({
        success: false,
        statusCode: 503,
        message: 'the database is busy; try again shortly',
      });
      other.exec('ROLLBACK');
      expect((await call(t.app, 'POST', '/users/register', { body })).status).toBe(201);
    } finally {
      other.close();
    }
  });
});
