/**
 * HTTP hardening (issue 5): attempt limits on login and registration, strict bodies, body size and
 * nesting limits, JSON errors in the envelope, security headers with a working /docs, and CORS.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../src/http/limits.js';
import { MAX_JSON_NESTING_DEPTH } from '../src/http/hardening.js';
import {
  LOGIN_ATTEMPTS_PER_ACCOUNT,
  LOGIN_ATTEMPTS_PER_IP,
  LOGIN_WINDOW_MS,
  REGISTRATION_ATTEMPTS_PER_EMAIL,
  REGISTRATIONS_PER_IP,
  REGISTRATION_WINDOW_MS,
} from '../src/http/rate-limits.js';
import { capturingLogger, closingAfterEach, type TestApp } from './helpers/app.js';
import { call, login, registerUser, type Answer } from './helpers/http.js';

const open = closingAfterEach();

function expectLimited(answer: Answer<unknown>, windowMs: number): void {
  expect(answer.status).toBe(429);
  expect(answer.body).toMatchObject({ success: false, statusCode: 429, errorSources: [] });
  const retryAfter = Number(answer.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowMs / 1000);
}

describe('attempt limits', () => {
  it('answers 429 with Retry-After once one account has had too many login attempts, from any IP', async () => {
    const t = await open();
    const { user, password } = await registerUser(t.app);
    for (let attempt = 0; attempt < LOGIN_ATTEMPTS_PER_ACCOUNT; attempt++) {
      const answer = await login(t.app, user.email, `guess-${attempt}`, `10.20.0.${attempt}`);
      expect(answer.status).toBe(401);
    }
    // Even the right password, from a new IP, in another case: the account is the key.
    expectLimited(await login(t.app, user.email.toUpperCase(), password, '10.20.1.1'), LOGIN_WINDOW_MS);
    // Another account is not affected.
    const other = await registerUser(t.app);
    expect((await login(t.app, other.user.email, other.password, '10.20.1.2')).status).toBe(200);
  });

  it('answers 429 with Retry-After once one IP has made too many login attempts, whatever the accounts', async () => {
    const t = await open();
    for (let attempt = 0; attempt < LOGIN_ATTEMPTS_PER_IP; attempt++) {
      const answer = await login(t.app, `nobody${attempt}@example.com`, 'guess', '10.21.0.1');
      expect(answer.status).toBe(401);
    }
    expectLimited(await login(t.app, 'someone@example.com', 'guess', '10.21.0.1'), LOGIN_WINDOW_MS);
    expect((await login(t.app, 'someone@example.com', 'guess', '10.21.0.2')).status).toBe(401);
  });

  it('counts per client IP from X-Forwarded-For behind a trusted proxy, and per proxy IP otherwise', async () => {
    const PROXY = '10.30.0.1';
    const viaProxy = (t: TestApp, client: string) =>
      call(t.app, 'POST', '/users/login', {
        body: { email: `nobody@example.com`, password: 'guess' },
        ip: PROXY,
        headers: { 'x-forwarded-for': client },
      });
    const trusting = await open({ trustProxy: 1 });
    for (let attempt = 0; attempt < LOGIN_ATTEMPTS_PER_IP; attempt++) {
      // Different accounts, so only the IP limit is reached.
      const answer = await call(trusting.app, 'POST', '/users/login', {
        body: { email: `nobody${attempt}@example.com`, password: 'guess' },
        ip: PROXY,
        headers: { 'x-forwarded-for': '203.0.113.7' },
      });
      expect(answer.status).toBe(401);
    }
    expectLimited(await viaProxy(trusting, '203.0.113.7'), LOGIN_WINDOW_MS);
    expect((await viaProxy(trusting, '203.0.113.8')).status).toBe(401);

    const untrusting = await open();
    for (let attempt = 0; attempt < LOGIN_ATTEMPTS_PER_IP; attempt++) {
      const answer = await call(untrusting.app, 'POST', '/users/login', {
        body: { email: `nobody${attempt}@example.com`, password: 'guess' },
        ip: PROXY,
        headers: { 'x-forwarded-for': `203.0.113.${attempt}` },
      });
      expect(answer.status).toBe(401);
    }
    // Without trust the header is ignored: every client behind the proxy shares its IP's limit.
    expectLimited(await viaProxy(untrusting, '203.0.113.200'), LOGIN_WINDOW_MS);
  });

  it('answers 429 with Retry-After once one IP has registered too often', async () => {
    const t = await open();
    for (let attempt = 0; attempt < REGISTRATIONS_PER_IP; attempt++) {
      await registerUser(t.app, { ip: '10.22.0.1' });
    }
    const limited = await call(t.app, 'POST', '/users/register', {
      body: { name: 'One more', email: 'one-more@example.com', password: 'long enough password' },
      ip: '10.22.0.1',
    });
    expectLimited(limited, REGISTRATION_WINDOW_MS);
    expect(await t.store.findUserByEmail('one-more@example.com')).toBeUndefined();
  });

  it('answers 429 with Retry-After once one email has been tried too often for registration, from any IP', async () => {
    const t = await open();
    const body = { name: 'Probe', email: 'probe@example.com', password: 'long enough password' };
    const statuses: number[] = [];
    for (let attempt = 0; attempt < REGISTRATION_ATTEMPTS_PER_EMAIL; attempt++) {
      statuses.push(
        (await call(t.app, 'POST', '/users/register', { body, ip: `10.23.0.${attempt}` })).status,
      );
    }
    expect(statuses).toEqual([201, ...Array<number>(REGISTRATION_ATTEMPTS_PER_EMAIL - 1).fill(409)]);
    const limited = await call(t.app, 'POST', '/users/register', {
      body: { ...body, email: ' PROBE@example.com' },
      ip: '10.23.1.1',
    });
    expectLimited(limited, REGISTRATION_WINDOW_MS);
  });
});

describe('request bodies', () => {
  it('answers 400 naming the field for injection-shaped values where strings belong', async () => {
    const t = await open();
    const cases = [
      { path: '/users/login', body: { email: { $ne: null }, password: 'x' }, field: 'email' },
      { path: '/users/login', body: { email: 'a@example.com', password: { $gt: '' } }, field: 'password' },
      { path: '/users/login', body: { email: ['a@example.com'], password: 'x' }, field: 'email' },
      {
        path: '/users/register',
        body: { name: { $where: 'sleep(1000)' }, email: 'b@example.com', password: 'long enough password' },
        field: 'name',
      },
    ];
    for (const { path, body, field } of cases) {
      const answer = await call(t.app, 'POST', path, { body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body).toMatchObject({ success: false, statusCode: 400 });
      expect(answer.body.errorSources?.map((issue) => issue.path)).toContain(field);
    }
    expect(await t.store.findUserByEmail('b@example.com')).toBeUndefined();
  });

  it('answers 400 for a repeated query parameter where one string belongs', async () => {
    const t = await open();
    const answer = await call(t.app, 'GET', '/symbols?search=BTC&search=ETH');
    expect(answer.status).toBe(400);
    expect(answer.body.errorSources?.[0]?.path).toBe('search');
  });

  it('keeps __proto__ and constructor keys inert: refused, and nothing polluted', async () => {
    const t = await open();
    const bodies = [
      '{"name":"P","email":"p@example.com","password":"long enough password","__proto__":{"role":"admin"}}',
      '{"name":"P","email":"p@example.com","password":"long enough password","constructor":{"prototype":{"role":"admin"}}}',
      '{"name":"P","email":"p@example.com","password":"long enough password","constructor":"x"}',
    ];
    for (const body of bodies) {
      const answer = await call(t.app, 'POST', '/users/register', { body });
      expect(answer.status, body).toBe(400);
      expect(answer.body).toMatchObject({ success: false, statusCode: 400 });
    }
    expect(({} as Record<string, unknown>).role).toBeUndefined();
    expect(await t.store.findUserByEmail('p@example.com')).toBeUndefined();
  });

  it('answers 413 in the envelope for a body over MAX_BODY_BYTES', async () => {
    const t = await open();
    const answer = await call(t.app, 'POST', '/users/login', {
      body: { email: 'a@example.com', password: 'x'.repeat(MAX_BODY_BYTES) },
    });
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ success: false, statusCode: 413 });
  });

  it('answers 400 for a body nested deeper than MAX_JSON_NESTING_DEPTH, saying so', async () => {
    const t = await open();
    const deep = '['.repeat(MAX_JSON_NESTING_DEPTH) + ']'.repeat(MAX_JSON_NESTING_DEPTH);
    const answer = await call(t.app, 'POST', '/users/login', {
      body: `{"email":"a@example.com","password":"x","extra":${deep}}`,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/nested deeper than/);
    expect(answer.body.errorSources).toEqual([
      { path: 'body', message: expect.stringMatching(/nested/) as string },
    ]);
  });

  it('answers 400 in the envelope for invalid and for empty JSON', async () => {
    const t = await open();
    for (const body of ['{"email": "a@example.com",', 'not json', '']) {
      const answer = await t.app.inject({
        method: 'POST',
        url: '/api/v1/users/login',
        headers: { 'content-type': 'application/json' },
        payload: body,
      });
      expect(answer.statusCode, body).toBe(400);
      expect(answer.json()).toMatchObject({
        success: false,
        statusCode: 400,
        errorSources: [{ path: 'body' }],
      });
    }
  });

  it('answers 400 naming the content type for a body that is not JSON, as fetch sends a string by default', async () => {
    const t = await open();
    const body = JSON.stringify({ email: 'a@example.com', password: 'correct horse' });
    // fetch(url, { method: 'POST', body: string }) without headers sends text/plain;charset=UTF-8.
    const cases = [
      {
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        message: 'must be application/json, not text/plain',
      },
      {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        message: 'must be application/json, not application/x-www-form-urlencoded',
      },
      { headers: {}, message: 'must be application/json' },
    ];
    for (const { headers, message } of cases) {
      const answer = await t.app.inject({
        method: 'POST',
        url: '/api/v1/users/login',
        headers,
        payload: body,
      });
      expect(answer.statusCode, message).toBe(400);
      expect(answer.json()).toEqual({
        success: false,
        statusCode: 400,
        message: 'the body must be JSON',
        errorSources: [{ path: 'content-type', message }],
      });
    }
  });
});

describe('headers', () => {
  it('closes with 408 in the envelope a connection whose request stops arriving, headers or body', async () => {
    const { app } = await open({ requestTimeoutMs: 300 });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const slowBody = await rawExchange(
      url,
      'POST /api/v1/users/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":',
    );
    const slowHeaders = await rawExchange(url, 'GET /api/v1/symbols HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    for (const answer of [slowBody, slowHeaders]) {
      expect(answer.statusLine).toBe('HTTP/1.1 408 Request Timeout');
      expect(answer.body).toEqual({
        success: false,
        statusCode: 408,
        message: 'the request was not received in time',
        errorSources: [],
      });
    }
    // Closed by the server, though the clients keep their side open: none left to hold a stop.
    const openConnections = () =>
      new Promise<number>((resolve, reject) =>
        app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      );
    for (let tries = 0; tries < 20 && (await openConnections()) > 0; tries++) await sleep(50);
    expect(await openConnections()).toBe(0);
  });

  it('answers requests Node cannot parse in the envelope: a malformed request line, an unknown method, oversized headers', async () => {
    const { app } = await open();
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    for (const request of ['GARBAGE\r\n\r\n', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n']) {
      const answer = await rawExchange(url, request);
      expect(answer.statusLine, request).toBe('HTTP/1.1 400 Bad Request');
      expect(answer.body).toMatchObject({ success: false, statusCode: 400, errorSources: [] });
    }
    const huge = await rawExchange(url, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(huge.body).toMatchObject({ success: false, statusCode: 431 });
  });

  it('sends security headers on API answers and on errors', async () => {
    const t = await open();
    for (const path of ['/system/health', '/no-such-route']) {
      const { headers } = await call(t.app, 'GET', path);
      expect(headers['content-security-policy']).toContain("default-src 'self'");
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(headers['strict-transport-security']).toContain('max-age=');
      expect(headers['referrer-policy']).toBe('no-referrer');
      expect(headers['x-powered-by']).toBeUndefined();
    }
  });

  it('serves the Swagger UI under a CSP it can run with: its scripts are files from self', async () => {
    const t = await open();
    const page = await call(t.app, 'GET', '/docs');
    expect(page.status).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).not.toContain('upgrade-insecure-requests');
    // Every script is an external file (an inline one would be blocked by script-src 'self').
    const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, content] of scripts) {
      expect(attributes).toMatch(/src="/);
      expect(content?.trim()).toBe('');
    }
    for (const asset of ['swagger-ui-bundle.js', 'swagger-initializer.js', 'swagger-ui.css']) {
      expect((await call(t.app, 'GET', `/docs/static/${asset}`)).status, asset).toBe(200);
    }
  });

  it('allows a configured CORS origin, with a preflight for admin writes, and no other origin', async () => {
    const t = await open({ corsOrigins: ['https://app.example'] });
    const allowed = await call(t.app, 'GET', '/symbols', { headers: { origin: 'https://app.example' } });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(allowed.headers['access-control-expose-headers']).toContain('Retry-After');

    const preflight = await call(t.app, 'OPTIONS', '/symbols/BTCUSDT', {
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(preflight.headers['access-control-allow-methods']).toContain('PATCH');
    expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toContain(
      'authorization',
    );

    const other = await call(t.app, 'GET', '/symbols', { headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('applies CORS_ORIGINS to the Socket.IO handshake as to the REST API', async () => {
    const t = await open({ corsOrigins: ['https://app.example'] });
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const handshake = (origin: string) =>
      fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
    const allowed = await handshake('https://app.example');
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await handshake('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows any origin with the default CORS_ORIGINS of *', async () => {
    const t = await open();
    const answer = await call(t.app, 'GET', '/symbols', { headers: { origin: 'https://anywhere.example' } });
    expect(answer.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('server errors', () => {
  it('answers 500 without internal text when the store fails, and logs the cause for operators', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hardening-'));
    try {
      const path = join(dir, 'market.db');
      const { lines, logger } = capturingLogger();
      const t = await open({ path, logger });
      const user = await registerUser(t.app, { email: 'victim@example.com' });
      // A real store failure: the table is gone under the running service.
      const db = new Database(path);
      db.exec('DROP TABLE users');
      db.close();

      const answer = await login(t.app, 'victim@example.com', user.password);
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({
        success: false,
        statusCode: 500,
        message: 'Internal Server Error',
        errorSources: [],
      });
      expect(JSON.stringify(answer.body)).not.toMatch(/users|table|sqlite|\.db|at /i);
      expect(lines.join('')).toMatch(/no such table: users/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Writes `request` on a fresh TCP connection and reads until the server ends its side. The client
 * never closes its own side (half-open, as a stalled or hostile client), so only the server can
 * close the connection.
 */
function rawExchange(url: string, request: string): Promise<{ statusLine: string; body: unknown }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true }, () =>
      socket.write(request),
    );
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head = '', body = ''] = received.split('\r\n\r\n');
      resolve({
        statusLine: head.split('\r\n')[0] ?? '',
        body: body === '' ? undefined : (JSON.parse(body) as unknown),
      });
    });
  });
}
