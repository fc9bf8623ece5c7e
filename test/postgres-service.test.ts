/**
 * The real service process (`src/main.ts`) with `DATABASE_URL=postgres://…` against a throwaway
 * PostgreSQL server and the simulated exchange: what SQLite users get, on a server.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REST_KLINE_SETTLE_MS } from '../src/binance/rest-wire.js';
import { createSimulatedExchange, type SimulatedExchange } from '../src/binance/simulator/index.js';
import { startPostgresServer, type PostgresServer } from './helpers/postgres-server.js';
import { expectNoCandleMissing, waitForIngestion, waitUntil } from './helpers/service-checks.js';
import { startService, type ServiceProcess } from './helpers/service-process.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
const LOOKBACK_MINUTES = 10;
/** Bounded waits for the child process, in ms. */
const WAIT_LIMIT_MS = 20_000;
const ADMIN = { email: 'admin@example.com', password: 'admin-password-0123' };

describe('the service process on PostgreSQL', () => {
  let server: PostgresServer;
  let exchange: SimulatedExchange;
  beforeAll(async () => {
    server = await startPostgresServer();
    exchange = await createSimulatedExchange({ symbols: SYMBOLS, includeUniverseExtras: false, seed: 5 });
  }, 60_000);
  afterAll(async () => {
    await exchange?.close();
    await server?.stop();
  });

  it('ingests into PostgreSQL, serves from it, and has lost no closed 1m candle after SIGKILL and a restart', async () => {
    const databaseUrl = await server.createDatabase();
    const env = {
      DATABASE_URL: databaseUrl,
      BINANCE_WS_URL: exchange.wsUrl,
      BINANCE_REST_URL: exchange.restUrl,
      SYMBOLS: SYMBOLS.join(','),
      BACKFILL_LOOKBACK: `${LOOKBACK_MINUTES}m`,
      JWT_SECRET: 'test-secret-0123456789-0123456789-0123456789',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    };
    const startedAt = exchange.clock.now();
    let service: ServiceProcess = startService(env);
    let url = await service.url;
    await waitForIngestion(url, 'ingesting', WAIT_LIMIT_MS);

    const status = (await (await fetch(`${url}/api/v1/system/status`)).json()) as {
      data: { store: { driver: string; healthy: boolean } };
    };
    expect(status.data.store).toEqual({ driver: 'postgres', healthy: true });
    // The admin account was created in PostgreSQL at start, and its password checks out there.
    const login = await fetch(`${url}/api/v1/users/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    expect(login.status).toBe(200);
    // PostgreSQL's text cannot hold NUL: such input is a 400 naming the field, never the server's 500.
    const search = await fetch(`${url}/api/v1/symbols?search=%00`);
    expect(search.status).toBe(400);
    const register = await fetch(`${url}/api/v1/users/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'a\u0000b', email: 'nul@example.com', password: 'long-enough-password' }),
    });
    expect(register.status).toBe(400);
    expect(await register.json()).toMatchObject({
      errorSources: [{ path: 'name', message: 'must not contain control characters' }],
    });
    // The backfilled minutes read back as candles from the store (the repair runs beside the stream).
    await waitUntil(
      'five 1m candles served',
      async () => {
        const response = await fetch(`${url}/api/v1/price-data/BTCUSDT/aggregated?interval=1m&limit=5`);
        const body = (await response.json()) as { success: boolean; data: unknown[] };
        return body.success && body.data.length === 5;
      },
      WAIT_LIMIT_MS,
    );

    service.child.kill('SIGKILL');
    expect(await service.exit).toBeNull();
    await sleep(1500);
    service = startService(env);
    url = await service.url;
    await waitForIngestion(url, 'ingesting', WAIT_LIMIT_MS);
    // Long enough for a minute that closed while the service was down, repaired from REST at once
    // and so not yet final there, to be fetched again once settled (REST_KLINE_SETTLE_MS).
    await sleep(REST_KLINE_SETTLE_MS + 2500);
    const stoppedAt = exchange.clock.now();
    service.child.kill('SIGTERM');
    expect(await service.exit).toBe(0);

    await expectNoCandleMissing(databaseUrl, exchange, SYMBOLS, {
      startedAt,
      stoppedAt,
      lookbackMinutes: LOOKBACK_MINUTES,
    });
  }, 90_000);
});
