/**
 * Composition root: config → adapters → market services → HTTP and Socket.IO; `main.ts` and `demo.ts`
 * start it and own the process (signals, exit codes). With REDIS_URL the cache, the bus, Socket.IO's
 * fan-out and the choice of the ingesting instance go through Redis (scale/platform.ts). Stops in
 * reverse order: ingestion first (its buffered writes are flushed and the lease released), then
 * HTTP and Socket.IO, then the store, then Redis.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { openStore } from './adapters/create-store.js';
import type { Config } from './config.js';
import { createSessionCalendar } from './domain/session-calendar.js';
import { buildApp } from './http/build-app.js';
import { buildLiveLink, createSampleFeed, type SampleListener } from './market/build-live-link.js';
import { createCacheWriter } from './market/cache-writer.js';
import { createCandleReader } from './market/candles.js';
import { createLiveState } from './market/live-state.js';
import { createPriceReader } from './market/prices.js';
import { sessionCloseChannel } from './realtime/session-push.js';
import { startRetention } from './market/retention.js';
import { createIngestion, type Ingestion } from './scale/ingestion.js';
import { createPlatform, type Platform } from './scale/platform.js';
import { startStandbyPrices } from './scale/standby-prices.js';
import { VERSION } from './version.js';

export interface Service {
  readonly app: FastifyInstance;
  /** Ingestion from Binance in this process (the live link while this instance holds the lease). */
  readonly link: Ingestion;
  readonly platform: Platform;
  /** The address the HTTP server listens on. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startService(
  config: Config,
  logger: Logger,
  now: () => number = Date.now,
): Promise<Service> {
  const store = await openStore(config.databaseUrl, {
    // Code and message only: the error carries the whole pg client, socket and all.
    onConnectionError: ({ message, code }: Error & { code?: string }) =>
      logger.warn({ code, reason: message }, 'database connection lost while idle; the pool opens another'),
  });
  const platform = createPlatform({
    redisUrl: config.redisUrl,
    logger,
    now,
    historyOnSubscribeMs: config.historyOnSubscribeMs,
  });
  const { cache, bus } = platform;
  const calendar = createSessionCalendar({ hours: config.intervalHours, timeZone: config.intervalTimeZone });
  // One live state per process: fed by ingestion here, or by the bus from the ingesting instance.
  const liveState = createLiveState();
  const ingestedSamples = createSampleFeed();
  const cacheWriter = createCacheWriter({ cache, logger });
  // Other instances exist only with Redis (a lease): alone, nobody would hear quotes or session
  // closes on the bus, and the gateway pushes closes on its own watch.
  const scaledOut = platform.lease !== undefined;
  const onIngestedSamples: SampleListener = (samples) => {
    const quotes = samples.flatMap((sample) => liveState.latest(sample.symbol) ?? []);
    if (scaledOut) {
      bus.publish('prices', { quotes: quotes.map(({ receivedAt: _receivedAt, ...quote }) => quote) });
    }
    cacheWriter.add(quotes, samples);
    ingestedSamples.publish(samples);
  };
  const link = createIngestion({
    store,
    logger,
    now,
    lease: platform.lease,
    build: (fence, onFenced) => {
      // Taking over from another instance: what it failed to copy into the window is unknown.
      if (fence) cacheWriter.markLost(now());
      return buildLiveLink(
        {
          wsUrl: config.binanceWsUrl,
          restUrl: config.binanceRestUrl,
          symbols: config.symbols,
          trackTop: config.trackTop,
          lookbackMs: config.backfillLookbackMs,
        },
        { store, logger, now, liveState, onSamples: onIngestedSamples, fence, onFenced },
      );
    },
  });
  // Only the ingesting instance sweeps the shared store; one that takes the lease sweeps from its next period.
  const retention = startRetention({
    store,
    retentionMs: config.priceHistoryRetentionMs,
    now,
    logger,
    ingesting: () => link.ingestion().role === 'ingesting',
  });
  // The ingesting instance hears its own quotes too; its live state has them already.
  bus.subscribe('prices', ({ quotes }) => {
    if (link.ingestion().role !== 'ingesting') liveState.applyQuotes(quotes, now());
  });
  // An admin's change on any instance reaches the ingesting one now, not at its next poll.
  bus.subscribe('symbols', () => {
    link
      .refreshSymbols()
      .catch((error: unknown) =>
        logger.warn({ err: error }, 'reading tracked symbols after a change failed'),
      );
  });
  const prices = createPriceReader({ store, now, live: liveState, cache });
  // A standby whose bus is down or silent reads prices from the store, for its own clients only.
  const standbySamples = createSampleFeed();
  const standbyPrices = scaledOut
    ? startStandbyPrices({
        store,
        prices,
        liveState,
        bus,
        ingesting: () => link.ingestion().role === 'ingesting',
        adapterReady: () => platform.socketAdapterReady(),
        now,
        logger: logger.child({ module: 'standby-prices' }),
        onSamples: standbySamples.publish,
      })
    : undefined;
  const app = await buildApp({
    logger,
    store,
    candles: createCandleReader({ store, calendar, now }),
    prices,
    live: link,
    platform: {
      health: () => platform.health(),
      pingCache: () => cache.ping(),
      ingestion: () => link.ingestion(),
      bus: () => ({ driver: bus.driver, healthy: bus.healthy(), ...bus.stats() }),
      cacheWriter: () => cacheWriter.stats(),
    },
    attemptCounters: platform.counters,
    version: VERSION,
    now,
    realtime: {
      broadcastIntervalMs: config.broadcastIntervalMs,
      historyOnSubscribeMs: config.historyOnSubscribeMs,
      samples: { onSamples: ingestedSamples.subscribe },
      localSamples: { onSamples: standbySamples.subscribe },
      adapter: platform.socketAdapter,
      cache,
      sessionCloses: scaledOut
        ? sessionCloseChannel(bus, () => link.ingestion().role === 'ingesting')
        : undefined,
    },
    auth: { jwtSecret: config.jwtSecret, jwtExpiresInMs: config.jwtExpiresInMs, admin: config.admin },
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    onSymbolsChanged: (changed) => bus.publish('symbols', { changed }),
  });
  const url = await app.listen({ port: config.port, host: config.host });
  // The API answers while the link connects; the link retries the exchange by itself.
  link.start();
  // The whole config is logged for operators; secrets in it are redacted by the logger (logger.ts).
  logger.info(
    { version: VERSION, store: store.driver, cache: cache.driver, instance: platform.instanceId, config },
    'service started',
  );
  for (const warning of config.warnings) logger.warn(warning);

  let stopping: Promise<void> | undefined;
  return {
    app,
    link,
    platform,
    url,
    stop() {
      stopping ??= (async () => {
        retention.stop();
        standbyPrices?.stop();
        await link.stop();
        await cacheWriter.idle();
        await app.close(); // closes the store (build-app's onClose)
        await platform.close();
      })();
      return stopping;
    },
  };
}
