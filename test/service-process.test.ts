import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { REST_KLINE_SETTLE_MS } from '../src/binance/rest-wire.js';
import { createSimulatedExchange, type SimulatedExchange } from '../src/binance/simulator/index.js';
import { expectNoCandleMissing } from './helpers/service-checks.js';
import { startService, type ServiceProcess } from './helpers/service-process.js';

const SECRET = 'test-secret-that-must-never-be-logged-0123456789';
const TOKEN = 'Bearer eyJhbGciOiJIUzI1NiJ9.never-log-me.signature';
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
const LOOKBACK_MINUTES = 10;
/** Bounded waits for the child process, in ms. */
const WAIT_LIMIT_MS = 20_000;

interface Status {
  data: { binance: { state: string }; backfill?: { repairedRanges: number } };
}

async function waitForLink(url: string, minRepairs: number): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (Date.now() < deadline) {
    const body = (await (await fetch(`${url}/api/v1/system/status`)).json()) as Status;
    if (body.data.binance.state === 'connected' && (body.data.backfill?.repairedRanges ?? 0) >= minRepairs)
      return;
    await sleep(100);
  }
  throw new Error('the live link did not connect and repair in time');
}

describe('the service process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'service-'));
  let exchange: SimulatedExchange;
  const env = (db: string): Record<string, string> => ({
    DATABASE_URL: `sqlite:${join(dir, db)}`,
    BINANCE_WS_URL: exchange.wsUrl,
    BINANCE_REST_URL: exchange.restUrl,
    SYMBOLS: SYMBOLS.join(','),
    BACKFILL_LOOKBACK: `${LOOKBACK_MINUTES}m`,
  });
  beforeAll(async () => {
    exchange = await createSimulatedExchange({ symbols: SYMBOLS, includeUniverseExtras: false, seed: 3 });
  });
  afterAll(async () => {
    await exchange.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves on its port, logs JSON lines without secrets, and stops with exit 0 on SIGTERM', async () => {
    const service = startService({
      ...env('secrets.db'),
      JWT_SECRET: SECRET,
      ADMIN_EMAIL: 'admin@example.com',
      ADMIN_PASSWORD: 'admin-password-never-logged',
      LOG_LEVEL: 'info',
    });
    const url = await service.url;
    const response = await fetch(`${url}/api/v1/system/health`, { headers: { authorization: TOKEN } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ success: true, data: { status: 'ok' } });
    await fetch(`${url}/api/v1/symbols?search=${encodeURIComponent('a')}`, {
      headers: { authorization: TOKEN },
    });

    service.child.kill('SIGTERM');
    expect(await service.exit).toBe(0);
    expect(service.lines.length).toBeGreaterThan(2);
    for (const line of service.lines) {
      expect(() => JSON.parse(line) as unknown, line).not.toThrow();
      expect(line).not.toContain(SECRET);
      expect(line).not.toContain('never-log-me');
      expect(line).not.toContain('admin-password-never-logged');
    }
    expect(service.lines.some((line) => line.includes('"[redacted]"'))).toBe(true);
    expect(service.lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  });

  it('stops on SIGINT too, exposes the live link in /metrics, and warns of ADMIN_EMAIL without ADMIN_PASSWORD', async () => {
    const service = startService({ ...env('sigint.db'), ADMIN_EMAIL: 'admin@example.com' });
    const url = await service.url;
    await waitForLink(url, 0);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^binance_connected 1$/m);
    expect(metrics).toMatch(/^binance_streams 3$/m);
    expect(metrics).toMatch(/^symbols_tracked 2$/m);
    service.child.kill('SIGINT');
    expect(await service.exit).toBe(0);
    const warning = service.lines.find((line) =>
      line.includes('"msg":"ADMIN_EMAIL is set without ADMIN_PASSWORD'),
    );
    expect(warning && JSON.parse(warning)).toMatchObject({ level: 40 });
  });

  it('stops once and exits 0 when the stop signal comes twice, as npm and a terminal both pass Ctrl-C on', async () => {
    const service = startService(env('twice.db'));
    const url = await service.url;
    await waitForLink(url, 0);
    service.child.kill('SIGINT');
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (!service.lines.some((line) => line.includes('"msg":"stopping"')) && Date.now() < deadline) {
      await sleep(5);
    }
    // The second signal, while the first stop is under way (almost always: a stop that ended
    // before this turn, on a loaded machine, leaves no process to signal).
    if (service.child.exitCode === null) service.child.kill('SIGINT');
    expect(await service.exit).toBe(0);
    expect(service.lines.filter((line) => line.includes('"msg":"stopping"'))).toHaveLength(1);
    expect(service.lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  });

  it('stops gracefully when SIGTERM is sent to npm itself, as Docker and systemd send it to `npm start`', async () => {
    // Its own process group, so that whatever is left of it can be killed at the end.
    const service = startService(env('npm-start.db'), { npmScript: 'start', detached: true });
    try {
      const url = await service.url;
      await waitForLink(url, 0);
      service.child.kill('SIGTERM');
      expect(await service.exit).toBe(0);
      expect(service.lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
      await expect(fetch(`${url}/api/v1/system/health`)).rejects.toThrow();
    } finally {
      try {
        process.kill(-service.child.pid!, 'SIGKILL');
      } catch {
        // The whole group is gone already.
      }
    }
  });

  it('runs `npm run demo` on DEMO_DATABASE_URL and in-process parts, never on the DATABASE_URL or REDIS_URL it is given', async () => {
    const real = join(dir, 'real.db');
    const demo = join(dir, 'demo.db');
    const service = startService(
      {
        DATABASE_URL: `sqlite:${real}`,
        DEMO_DATABASE_URL: `sqlite:${demo}`,
        REDIS_URL: 'redis://127.0.0.1:9', // a real cluster's, which the demo must not join
        SYMBOLS: SYMBOLS.join(','),
        BACKFILL_LOOKBACK: `${LOOKBACK_MINUTES}m`,
      },
      { npmScript: 'demo' },
    );
    const url = await service.url;
    await waitForLink(url, SYMBOLS.length);
    service.child.kill('SIGINT');
    expect(await service.exit).toBe(0);
    expect(existsSync(real)).toBe(false);
    const started = service.lines.find((line) => line.includes('"msg":"service started"'));
    expect(started && JSON.parse(started)).toMatchObject({ store: 'sqlite', cache: 'memory' });
    const store = new SqliteStore({ path: demo });
    try {
      expect((await store.candleSpan('BTCUSDT'))?.lastOpenTime).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('refuses to start on invalid configuration, naming every bad variable at once', async () => {
    const service = startService({
      PORT: 'eighty',
      INTERVAL_TIMEZONE: 'Nowhere/Land',
      BACKFILL_LOOKBACK: '1 day',
    });
    expect(await service.exit).toBe(1);
    const message = service.stderr.join('');
    expect(message).toContain('PORT');
    expect(message).toContain('INTERVAL_TIMEZONE');
    expect(message).toContain('BACKFILL_LOOKBACK');
  });

  it('loses no closed 1m candle when killed with SIGKILL and restarted', async () => {
    const startedAt = exchange.clock.now();
    let service: ServiceProcess = startService(env('sigkill.db'));
    await waitForLink(await service.url, SYMBOLS.length);
    await sleep(2500);
    service.child.kill('SIGKILL');
    expect(await service.exit).toBeNull();
    await sleep(1500);

    service = startService(env('sigkill.db'));
    await waitForLink(await service.url, SYMBOLS.length);
    // Long enough for a minute that closed while the service was down, repaired from REST at once
    // and so not yet final there, to be fetched again once settled (REST_KLINE_SETTLE_MS).
    await sleep(REST_KLINE_SETTLE_MS + 2500);
    const stoppedAt = exchange.clock.now();
    service.child.kill('SIGTERM');
    expect(await service.exit).toBe(0);

    await expectNoCandleMissing(`sqlite:${join(dir, 'sigkill.db')}`, exchange, SYMBOLS, {
      startedAt,
      stoppedAt,
      lookbackMinutes: LOOKBACK_MINUTES,
    });
  });
});
