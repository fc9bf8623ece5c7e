/** Builds the real app on a real SQLite store, for `inject()` or for listening on port 0. */
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { SqliteStore } from '../../src/adapters/sqlite/store.js';
import { createSessionCalendar } from '../../src/domain/session-calendar.js';
import { buildApp } from '../../src/http/build-app.js';
import { createCandleReader } from '../../src/market/candles.js';
import { createPriceReader } from '../../src/market/prices.js';

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: SqliteStore;
}

export interface TestAppOptions {
  readonly path?: string;
  readonly now?: () => number;
  readonly hours?: readonly number[];
  readonly timeZone?: string;
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const now = options.now ?? Date.now;
  const store = new SqliteStore({ path: options.path ?? ':memory:', now });
  const calendar = createSessionCalendar({
    hours: options.hours ?? [1, 5, 9, 13, 17, 21],
    timeZone: options.timeZone ?? 'UTC',
  });
  const app = await buildApp({
    logger: pino({ level: 'silent' }),
    store,
    candles: createCandleReader({ store, calendar, now }),
    prices: createPriceReader({ store, now }),
    version: '0.0.0-test',
    now,
  });
  return { app, store };
}
