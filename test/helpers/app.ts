/** Builds the real app on a real SQLite store, for `inject()` or for listening on port 0. */
import { Writable } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { afterEach } from 'vitest';
import { SqliteStore } from '../../src/adapters/sqlite/store.js';
import type { AuthSettings } from '../../src/auth/setup.js';
import { createSessionCalendar } from '../../src/domain/session-calendar.js';
import { buildApp, type AppDeps } from '../../src/http/build-app.js';
import { createLogger } from '../../src/logger.js';
import { createCandleReader } from '../../src/market/candles.js';
import { createPriceReader } from '../../src/market/prices.js';
import { checkAnswersAgainstDocument } from './openapi-check.js';

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: SqliteStore;
}

export interface TestAppOptions {
  /** SQLite file; default a fresh in-memory database. Ignored when `store` is given. */
  readonly path?: string;
  /** A store to build on (it is closed with the app). */
  readonly store?: SqliteStore;
  readonly now?: () => number;
  readonly hours?: readonly number[];
  readonly timeZone?: string;
  /** Default: a fixed test secret, so building does not write one to the store. */
  readonly auth?: AuthSettings;
  readonly corsOrigins?: readonly string[];
  readonly trustProxy?: AppDeps['trustProxy'];
  readonly onSymbolsChanged?: () => void;
  readonly live?: AppDeps['live'];
  /** Redis for the attempt counters (shared by every app on it). */
  readonly attemptCounters?: AppDeps['attemptCounters'];
  /** Default: silent. */
  readonly logger?: FastifyBaseLogger;
  readonly requestTimeoutMs?: number;
}

/** The secret test apps sign with unless a test gives `auth`. */
export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789-abcdefghijklmnop';

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const now = options.now ?? Date.now;
  const store = options.store ?? new SqliteStore({ path: options.path ?? ':memory:', now });
  const calendar = createSessionCalendar({
    hours: options.hours ?? [1, 5, 9, 13, 17, 21],
    timeZone: options.timeZone ?? 'UTC',
  });
  const app = await buildApp({
    logger: options.logger ?? pino({ level: 'silent' }),
    store,
    candles: createCandleReader({ store, calendar, now }),
    prices: createPriceReader({ store, now }),
    live: options.live,
    version: '0.0.0-test',
    now,
    auth: options.auth ?? { jwtSecret: TEST_JWT_SECRET },
    corsOrigins: options.corsOrigins,
    trustProxy: options.trustProxy,
    onSymbolsChanged: options.onSymbolsChanged,
    attemptCounters: options.attemptCounters,
    requestTimeoutMs: options.requestTimeoutMs,
  });
  checkAnswersAgainstDocument(app);
  return { app, store };
}

/**
 * Opens test apps that close after each test of the calling file: call once at its top level and
 * use the returned `open` in place of `createTestApp`.
 */
export function closingAfterEach(): (options?: TestAppOptions) => Promise<TestApp> {
  const apps: TestApp[] = [];
  afterEach(async () => {
    for (const t of apps.splice(0)) await t.app.close();
  });
  return async (options) => {
    const t = await createTestApp(options);
    apps.push(t);
    return t;
  };
}

/** A logger writing its JSON lines into `lines`, through the service's own redaction (logger.ts). */
export function capturingLogger(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger('info', stream) };
}
