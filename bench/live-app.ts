/**
 * The real app as the benchmarks run it: a SQLite store holding `symbols` (active), the live
 * state, write buffer and ingest that the live link would drive, and `buildApp` over them (with
 * Socket.IO fed by the ingest's samples when `realtime` settings are given). Never listens.
 */
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import type { PriceSample } from '../src/domain/price.js';
import { createSessionCalendar } from '../src/domain/session-calendar.js';
import { buildApp } from '../src/http/build-app.js';
import { createCandleReader } from '../src/market/candles.js';
import { createIngest, type Ingest } from '../src/market/ingest.js';
import { createLiveState, type LiveState } from '../src/market/live-state.js';
import { createPriceReader } from '../src/market/prices.js';
import { createWriteBuffer, type WriteBuffer } from '../src/market/write-buffer.js';
import type { RealtimeSettings } from '../src/realtime/gateway.js';

export const BENCH_JWT_SECRET = 'bench-jwt-secret-0123456789-abcdefghijklmnop';

export interface LiveApp {
  readonly app: FastifyInstance;
  readonly store: SqliteStore;
  readonly ingest: Ingest;
  readonly buffer: WriteBuffer;
  readonly liveState: LiveState;
}

export async function buildLiveApp(options: {
  readonly dbPath: string;
  readonly symbols: readonly string[];
  /** Socket.IO settings but the sample source, which is this app's ingest. */
  readonly realtime?: Omit<RealtimeSettings, 'samples'>;
}): Promise<LiveApp> {
  const logger = pino({ level: 'silent' });
  const store = new SqliteStore({ path: options.dbPath });
  // The routes and `subscribe` answer 404 for a symbol the store does not know.
  await store.insertSymbolsIfMissing(
    options.symbols.map((symbol) => ({
      symbol,
      baseAsset: symbol.slice(0, -'USDT'.length),
      quoteAsset: 'USDT',
      status: 'TRADING',
      isActive: true,
    })),
  );
  const liveState = createLiveState();
  const buffer = createWriteBuffer({ store, logger });
  const listeners = new Set<(samples: readonly PriceSample[]) => void>();
  const ingest = createIngest({
    liveState,
    buffer,
    onSamples: (samples) => {
      for (const listener of listeners) listener(samples);
    },
  });
  const now = Date.now;
  const app = await buildApp({
    logger,
    store,
    candles: createCandleReader({
      store,
      calendar: createSessionCalendar({ hours: [1, 5, 9, 13, 17, 21], timeZone: 'UTC' }),
      now,
    }),
    prices: createPriceReader({ store, now, live: liveState }),
    version: 'bench',
    now,
    auth: { jwtSecret: BENCH_JWT_SECRET },
    ...(options.realtime
      ? {
          realtime: {
            ...options.realtime,
            samples: {
              onSamples: (listener: (samples: readonly PriceSample[]) => void) => {
                listeners.add(listener);
                return () => listeners.delete(listener);
              },
            },
          },
        }
      : {}),
  });
  return { app, store, ingest, buffer, liveState };
}
