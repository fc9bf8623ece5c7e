/**
 * Wires the live link's parts for one process: REST client, stream client, live state, write
 * buffer, ingestion and gap repair. Used by main.ts and by the integration tests alike.
 */
import type { Logger } from 'pino';
import { createRestClient, type RestClient } from '../binance/rest-client.js';
import { createStreamClient } from '../binance/stream-client.js';
import type { PriceSample } from '../domain/price.js';
import { withOverrides } from '../adapters/with-overrides.js';
import { FencedError } from '../domain/errors.js';
import type { Store, WriteFence } from '../ports/store.js';
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
  readonly statusRefreshMs?: number;
  readonly flushIntervalMs?: number;
  readonly repairRetryDelayMs?: number;
  readonly settleRecheckMaxMs?: number;
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

/** New price samples, handed to every listener registered. */
export interface SampleFeed {
  readonly publish: SampleListener;
  /** Returns the listener's removal. */
  readonly subscribe: (listener: SampleListener) => () => void;
}

export function createSampleFeed(): SampleFeed {
  const listeners = new Set<SampleListener>();
  return {
    publish: (samples) => {
      for (const listener of listeners) listener(samples);
    },
    subscribe: (listener) => {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}

export interface LiveLinkDependencies {
  readonly store: Store;
  readonly logger: Logger;
  readonly now: () => number;
  /** Live state to feed (the process's own, shared with the readers); a new one without it. */
  readonly liveState?: LiveState;
  /** Hears every frame's new samples, besides the listeners registered through `onSamples`. */
  readonly onSamples?: SampleListener;
  /**
   * Ingestion under a lease (src/scale/ingestion.ts): every candle and sample write carries this
   * fencing token, and `onFenced` hears when the store refuses it.
   */
  readonly fence?: WriteFence;
  readonly onFenced?: () => void;
}

export function buildLiveLink(settings: LiveLinkSettings, deps: LiveLinkDependencies): LiveLinkParts {
  const { now } = deps;
  const store = deps.fence
    ? fenceWrites(deps.store, deps.fence, deps.onFenced ?? (() => undefined))
    : deps.store;
  const logger = deps.logger.child({ module: 'binance' });
  // Aborted on stop, so a request in flight or a Retry-After wait cannot hold up a graceful stop.
  const lifetime = new AbortController();
  const rest = createRestClient({ baseUrl: settings.restUrl, now, signal: lifetime.signal });
  const liveState = deps.liveState ?? createLiveState();
  const buffer = createWriteBuffer({ store, logger, flushIntervalMs: settings.flushIntervalMs });
  const samples = createSampleFeed();
  const ingest = createIngest({
    liveState,
    buffer,
    onSamples: (frameSamples) => {
      deps.onSamples?.(frameSamples);
      samples.publish(frameSamples);
    },
  });
  const repair = createGapRepair({
    store,
    rest,
    logger,
    now,
    lookbackMs: settings.lookbackMs,
    retryDelayMs: settings.repairRetryDelayMs,
    settleRecheckMaxMs: settings.settleRecheckMaxMs,
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
    statusRefreshMs: settings.statusRefreshMs,
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
    onSamples: samples.subscribe,
  };
}

/** The store with its ingestion writes fenced: each carries `fence`, and a refusal is reported. */
export function fenceWrites(store: Store, fence: WriteFence, onFenced: () => void): Store {
  const guard = async (write: Promise<void>): Promise<void> => {
    try {
      await write;
    } catch (error) {
      if (error instanceof FencedError) onFenced();
      throw error;
    }
  };
  return withOverrides(store, {
    upsertCandles: (candles) => guard(store.upsertCandles(candles, fence)),
    insertPriceSamples: (samples) => guard(store.insertPriceSamples(samples, fence)),
    recordRepairGaps: (gaps) => guard(store.recordRepairGaps(gaps, fence)),
    clearRepairGap: (symbol, from) => guard(store.clearRepairGap(symbol, from, fence)),
  });
}
