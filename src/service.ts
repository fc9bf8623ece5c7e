/**
 * Composition root: config → adapters → market services → HTTP and Socket.IO; `main.ts` and `demo.ts` start it
 * and own the process (signals, exit codes). Stops in reverse order: the live link first (its
 * buffered writes are flushed), then HTTP, then the store.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createStore } from './adapters/create-store.js';
import type { Config } from './config.js';
import { createSessionCalendar } from './domain/session-calendar.js';
import { buildApp } from './http/build-app.js';
import { buildLiveLink } from './market/build-live-link.js';
import { createCandleReader } from './market/candles.js';
import type { LiveLink } from './market/live-link.js';
import { createPriceReader } from './market/prices.js';
import { startRetention } from './market/retention.js';
import { VERSION } from './version.js';

export interface Service {
  readonly app: FastifyInstance;
  readonly link: LiveLink;
  /** The address the HTTP server listens on. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startService(
  config: Config,
  logger: Logger,
  now: () => number = Date.now,
): Promise<Service> {
  const store = createStore(config.databaseUrl);
  const calendar = createSessionCalendar({ hours: config.intervalHours, timeZone: config.intervalTimeZone });
  const retention = startRetention({ store, retentionMs: config.priceHistoryRetentionMs, now, logger });
  const { link, liveState, onSamples } = buildLiveLink(
    {
      wsUrl: config.binanceWsUrl,
      restUrl: config.binanceRestUrl,
      symbols: config.symbols,
      trackTop: config.trackTop,
      lookbackMs: config.backfillLookbackMs,
    },
    { store, logger, now },
  );
  const app = await buildApp({
    logger,
    store,
    candles: createCandleReader({ store, calendar, now }),
    prices: createPriceReader({ store, now, live: liveState }),
    live: link,
    version: VERSION,
    now,
    realtime: {
      broadcastIntervalMs: config.broadcastIntervalMs,
      historyOnSubscribeMs: config.historyOnSubscribeMs,
      corsOrigins: config.corsOrigins,
      samples: { onSamples },
    },
  });
  const url = await app.listen({ port: config.port, host: config.host });
  // The API answers while the link connects; the link retries the exchange by itself.
  link.start();
  // The whole config is logged for operators; secrets in it are redacted by the logger (logger.ts).
  logger.info({ version: VERSION, store: store.driver, config }, 'service started');

  let stopping: Promise<void> | undefined;
  return {
    app,
    link,
    url,
    stop() {
      stopping ??= (async () => {
        retention.stop();
        await link.stop();
        await app.close(); // closes the store last (build-app's onClose)
      })();
      return stopping;
    },
  };
}
