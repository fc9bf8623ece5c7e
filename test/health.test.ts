/**
 * `/system/health` while the store answers its ping but refuses writes (a full disk, a read-only
 * file system, a PostgreSQL standby): the live link against the simulated exchange writes through a
 * store whose writes can be switched to fail.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { createAcceleratedClock, createSimulatedExchange } from '../src/binance/simulator/index.js';
import { MINUTE_MS } from '../src/domain/intervals.js';
import { DEGRADED_AFTER_FAILED_FLUSHES } from '../src/http/routes/system.js';
import { buildLiveLink } from '../src/market/build-live-link.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { withWriteFaults } from './helpers/faulty-store.js';
import { FAST_LINK_TIMINGS, SPEED } from './helpers/live-harness.js';
import { WAIT_MS, waitUntil } from './helpers/service-status.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

interface Health {
  readonly statusCode: number;
  readonly data: { status: string; checks?: { writes?: { ok: boolean; failedFlushesInARow: number } } };
}

describe('health while the store refuses writes', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it(`says degraded with 503 after ${DEGRADED_AFTER_FAILED_FLUSHES} failed flushes in a row, and ok once writes succeed again`, async () => {
    const clock = createAcceleratedClock({ start: Date.parse('2026-01-01T00:00:30Z'), speed: SPEED });
    const now = () => clock.now();
    const exchange = await createSimulatedExchange({
      clock,
      symbols: SYMBOLS,
      includeUniverseExtras: false,
      seed: 7,
    });
    cleanups.push(() => exchange.close());
    const real = new SqliteStore({ path: ':memory:', now });
    const faulty = withWriteFaults(real);
    const parts = buildLiveLink(
      {
        wsUrl: exchange.wsUrl,
        restUrl: exchange.restUrl,
        symbols: SYMBOLS,
        trackTop: 242,
        lookbackMs: 5 * MINUTE_MS,
        ...FAST_LINK_TIMINGS,
      },
      { store: faulty.store, logger: pino({ level: 'silent' }), now },
    );
    const t: TestApp = await createTestApp({ store: real, now, live: parts.link });
    cleanups.push(() => t.app.close());
    parts.link.start();
    cleanups.push(async () => {
      faulty.failing = false;
      await parts.link.stop();
    });
    const health = async (): Promise<Health> => {
      const response = await t.app.inject({ url: '/api/v1/system/health' });
      return { statusCode: response.statusCode, data: response.json<{ data: Health['data'] }>().data };
    };
    await waitUntil('a first flush', async () => parts.link.status().writes.flushes > 0, WAIT_MS);
    expect(await health()).toEqual({ statusCode: 200, data: { status: 'ok' } });

    faulty.failing = true; // the ping still answers: only writes fail
    await waitUntil('health degraded', async () => (await health()).statusCode === 503, WAIT_MS);
    const degraded = await health();
    expect(degraded.data.status).toBe('degraded');
    expect(degraded.data.checks?.writes).toEqual({
      ok: false,
      failedFlushesInARow: expect.any(Number) as number,
    });
    expect(degraded.data.checks!.writes!.failedFlushesInARow).toBeGreaterThanOrEqual(
      DEGRADED_AFTER_FAILED_FLUSHES,
    );

    faulty.failing = false;
    await waitUntil('health ok again', async () => (await health()).statusCode === 200, WAIT_MS);
    expect(await health()).toEqual({ statusCode: 200, data: { status: 'ok' } });
  }, 30_000);
});
