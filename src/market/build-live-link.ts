/**
 * Wires the live link's parts for one process: REST client, stream client, live state, write
 * buffer, ingestion and gap repair. Used by main.ts and by the integration tests alike.
 */
import type { Logger } from 'pino';
import { createRestClient, type RestClient } from '../binance/rest-client.js';
import { createStreamClient } from '../binance/stream-client.js';
import type { PriceSample } from '../domain/price.js';
import type { Store } from '../ports/store.js';
import { createGapRepair } from './gap-repair.js';
import { createIngest } from './ingest.js';
import { createLiveLink, type LiveLink } from './live-link.js';
import { createLiveState, type LiveState } from './live-state.js';
import { createWriteBuffer } from './write-buffer.js';

export interface LiveLinkSettings {
  readonly wsUrl: string;
  readonly restUrl: string;
  readonly symbols: readonly string[] | undefined;
  readonly trackTop: number;
  readonly lookbackMs: number;
  /** Overrides for tests: short lifetimes, quick death detection, fast backoff. */
  readonly connectionMaxAgeMs?: number;
  readonly deadAfterMs?: number;
  readonly backoffBaseMs?: number;
  readonly pollIntervalMs?: number;
  readonly flushIntervalMs?: number;
  readonly repairRetryDelayMs?: number;
  readonly maxStreamsPerConnection?: number;
}

export interface LiveLinkParts {
  readonly link: LiveLink;
  readonly liveState: LiveState;
  readonly rest: RestClient;
  /** Registers a listener for new price samples (the realtime fan-out); returns its removal. */
  readonly onSamples: (listener: SampleListener) => () => void;
}

export type SampleListener = (samples: readonly PriceSample[]) => void;

export function buildLiveLink(
  settings: LiveLinkSettings,
  deps: { store: Store; logger: Logger; now: () => number },
): LiveLinkParts {
  const { store, now } = deps;
  const logger = deps.logger.child({ module: 'binance' });
  // Aborted on stop, so a request in flight or a Retry-After wait cannot hold up a graceful stop.
  const lifetime = new AbortController();
  const rest = createRestClient({ baseUrl: settings.restUrl, now, signal: lifetime.signal });
  const liveState = createLiveState();
  const buffer = createWriteBuffer({ store, logger, flushIntervalMs: settings.flushIntervalMs });
  const sampleListeners = new Set<SampleListener>();
  const ingest = createIngest({
    liveState,
    buffer,
    onSamples: (samples) => {
      for (const listener of sampleListeners) listener(samples);
    },
  });
  const repair = createGapRepair({
    store,
    rest,
    logger,
    now,
    lookbackMs: settings.lookbackMs,
    retryDelayMs: settings.repairRetryDelayMs,
  });
  const stream = createStreamClient({
    baseUrl: settings.wsUrl,
    logger,
    now,
    onEvent: (event, receivedAt) => ingest.handle(event, receivedAt),
    onResume: (symbols, since) => {
      for (const symbol of symbols) repair.request(symbol, since);
    },
    maxAgeMs: settings.connectionMaxAgeMs,
    deadAfterMs: settings.deadAfterMs,
    backoffBaseMs: settings.backoffBaseMs,
    maxStreamsPerConnection: settings.maxStreamsPerConnection,
  });
  const link = createLiveLink({
    store,
    rest,
    stream,
    ingest,
    buffer,
    repair,
    logger,
    now,
    symbols: settings.symbols,
    trackTop: settings.trackTop,
    lookbackMs: settings.lookbackMs,
    pollIntervalMs: settings.pollIntervalMs,
  });
  const stop = link.stop.bind(link);
  return {
    link: {
      ...link,
      stop: async () => {
        lifetime.abort();
        await stop();
      },
    },
    liveState,
    rest,
    onSamples: (listener) => {
      sampleListeners.add(listener);
      return () => sampleListeners.delete(listener);
    },
  };
}
