/**
 * Who ingests from Binance in this process. Alone (REDIS_URL unset) the process always does. With
 * Redis, instances share one store and exactly one of them ingests: the holder of the lease
 * (lease.ts). On taking the lease an instance takes a fresh fencing token from the store and builds
 * a fresh live link whose writes carry it; the new link repairs from its last stored candles and
 * the gaps the previous holder recorded as owed, so the minutes it missed are fetched from the
 * exchange. On losing the lease (another
 * holder, the store refusing the token, or a stop) the link stops and flushes what it may.
 *
 * A holder whose link hears nothing from Binance for SILENT_LINK_YIELD_MS (its network path or its
 * address blocked, while Redis and the store still answer) hands the lease on and waits
 * YIELD_HOLD_OFF_MS before bidding again, so an instance that can reach the exchange takes over and
 * repairs the silent stretch. When no instance can, the lease goes round; each holder repairs on
 * taking it, so nothing is lost to the rotation.
 */
import type { Logger } from 'pino';
import type { LiveLinkParts } from '../market/build-live-link.js';
import type { LiveLinkStatus } from '../market/live-link.js';
import type { Store, WriteFence } from '../ports/store.js';
import { LEASE_ACQUIRE_INTERVAL_MS, type LeaseFactory, type LeaseStatus } from './lease.js';

/** The store's fence for ingestion writes. */
export const INGEST_FENCE = 'ingest';
/**
 * How long the ingesting instance's link may hear no frame from Binance before the lease is handed
 * on, in ms: past a dead connection's detection (DEAD_AFTER_MS, 30 s) and several reconnects.
 */
export const SILENT_LINK_YIELD_MS = 90_000;
/** How often the ingesting instance looks for that silence, in ms. */
export const SILENCE_CHECK_INTERVAL_MS = 5000;
/** How long an instance that handed the lease on waits before bidding again, in ms: five of the others' tries. */
export const YIELD_HOLD_OFF_MS = 5 * LEASE_ACQUIRE_INTERVAL_MS;

export interface IngestionStatus {
  readonly mode: 'single' | 'leased';
  readonly role: 'ingesting' | 'standby';
  readonly lease?: LeaseStatus;
}

export interface Ingestion {
  start(): void;
  stop(): Promise<void>;
  /** Re-reads the tracked symbols now, when this instance ingests. */
  refreshSymbols(): Promise<void>;
  /** Symbols streamed right now (none on standby). */
  tracked(): readonly string[];
  /** The live link's figures, or an idle link's while on standby. */
  status(): LiveLinkStatus;
  ingestion(): IngestionStatus;
}

export interface IngestionDeps {
  readonly store: Store;
  readonly logger: Logger;
  /** Builds a live link; with a fence, its writes carry it and `onFenced` hears a refusal. */
  readonly build: (fence?: WriteFence, onFenced?: () => void) => LiveLinkParts;
  /** With a lease factory, ingestion follows the lease; without, this process always ingests. */
  readonly lease?: LeaseFactory;
  /** The live link's clock (its frames' receipt times). */
  readonly now: () => number;
  /** Overrides for tests, on `now`'s clock: SILENT_LINK_YIELD_MS. */
  readonly silentLinkYieldMs?: number;
  /** Overrides for tests, real ms: SILENCE_CHECK_INTERVAL_MS, YIELD_HOLD_OFF_MS. */
  readonly silenceCheckIntervalMs?: number;
  readonly yieldHoldOffMs?: number;
}

const IDLE_STATUS: LiveLinkStatus = {
  binance: {
    state: 'stopped',
    connections: 0,
    streams: 0,
    lastMessageAt: undefined,
    reconnects: 0,
    replacements: 0,
    malformed: 0,
    lastError: undefined,
    outgoingSpacingMs: 0,
  },
  symbols: { tracked: 0, fresh: 0, stale: 0, staleSymbols: [] },
  repair: {
    queued: 0,
    active: undefined,
    repairedRanges: 0,
    candlesStored: 0,
    failures: 0,
    lastError: undefined,
    unknownSymbols: [],
    recent: [],
  },
  writes: {
    pendingCandles: 0,
    pendingSamples: 0,
    flushes: 0,
    failedFlushes: 0,
    consecutiveFailedFlushes: 0,
    refused: 0,
    lastError: undefined,
  },
};

export function createIngestion(deps: IngestionDeps): Ingestion {
  const { store, logger, now } = deps;
  const silentLinkYieldMs = deps.silentLinkYieldMs ?? SILENT_LINK_YIELD_MS;
  let parts: LiveLinkParts | undefined;
  /** Checks the ingesting link for silence; set while this instance ingests under the lease. */
  let silenceWatch: NodeJS.Timeout | undefined;

  if (!deps.lease) {
    const single = deps.build();
    return {
      start: () => single.link.start(),
      stop: () => single.link.stop(),
      refreshSymbols: () => single.link.refreshSymbols(),
      tracked: () => single.link.tracked(),
      status: () => single.link.status(),
      ingestion: () => ({ mode: 'single', role: 'ingesting' }),
    };
  }

  const lease = deps.lease({
    async onAcquired() {
      const token = await store.advanceFence(INGEST_FENCE);
      logger.info({ fence: token }, 'ingesting from Binance under the lease');
      const next = deps.build({ name: INGEST_FENCE, token }, () =>
        lease.lose('the store refused our fencing token'),
      );
      try {
        next.link.start();
      } catch (error) {
        // The lease is released on a rejection; leave no half-started link behind it.
        await next.link.stop().catch(() => undefined);
        throw error;
      }
      parts = next;
      silenceWatch = watchForSilence(next);
    },
    async onLost() {
      clearInterval(silenceWatch);
      silenceWatch = undefined;
      const stopping = parts;
      parts = undefined;
      // A fenced link's last flush is refused; what it held is the new holder's to repair.
      await stopping?.link
        .stop()
        .catch((error: unknown) => logger.warn({ err: error }, 'live link stop failed'));
    },
  });

  /** Hands the lease on once `watched` has heard nothing for silentLinkYieldMs while it had streams. */
  function watchForSilence(watched: LiveLinkParts): NodeJS.Timeout {
    let heardAt = now();
    const timer = setInterval(() => {
      const { streams, lastMessageAt } = watched.link.status().binance;
      // With no stream there is nothing to hear: the silence counts from the first stream.
      if (streams === 0) heardAt = now();
      else if (lastMessageAt !== undefined && lastMessageAt > heardAt) heardAt = lastMessageAt;
      const silentMs = now() - heardAt;
      if (silentMs < silentLinkYieldMs) return;
      logger.warn(
        { silentMs },
        'no frame from Binance: handing the ingestion lease to an instance that may reach it',
      );
      lease.lose(`no frame from Binance for ${Math.round(silentMs / 1000)} s`, {
        holdOffMs: deps.yieldHoldOffMs ?? YIELD_HOLD_OFF_MS,
      });
    }, deps.silenceCheckIntervalMs ?? SILENCE_CHECK_INTERVAL_MS);
    timer.unref();
    return timer;
  }

  return {
    start: () => lease.start(),
    stop: () => lease.stop(),
    refreshSymbols: async () => parts?.link.refreshSymbols(),
    tracked: () => parts?.link.tracked() ?? [],
    status: () => parts?.link.status() ?? IDLE_STATUS,
    ingestion: () => ({ mode: 'leased', role: parts ? 'ingesting' : 'standby', lease: lease.status() }),
  };
}
