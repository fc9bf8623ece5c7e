/**
 * The live link's composition: which symbols are tracked, the stream client feeding ingestion,
 * the write buffer, and gap repair at start, after every reconnect or replacement, and when a
 * symbol is added. Symbols activated or deactivated in the store are picked up by polling, so a
 * change made by any instance (or directly in the store) takes effect without a restart. The
 * stored symbols' exchange statuses follow exchangeInfo, read at start and every hour.
 */
import type { Logger } from 'pino';
import type { RestClient } from '../binance/rest-client.js';
import { ALL_STATUSES_EXCHANGE_INFO_QUERY } from '../binance/rest-wire.js';
import type { StreamClient, StreamClientStatus } from '../binance/stream-client.js';
import type { Store } from '../ports/store.js';
import { lookbackStart, storedRepairStart, type GapRepair, type GapRepairStatus } from './gap-repair.js';
import type { Ingest } from './ingest.js';
import { activateStored, selectTopSymbols, UNIVERSE_CHOSEN_SETTING } from './universe.js';
import type { WriteBuffer, WriteBufferStats } from './write-buffer.js';
import { bucketOpenTime, MINUTE_MS } from '../domain/intervals.js';
import { splitSymbol } from '../domain/symbol.js';

/** How often the store's active symbols are read for changes, in ms. */
export const SYMBOL_POLL_INTERVAL_MS = 5000;
/** How soon a failed start (universe unreadable) is tried again, in ms. */
export const SEED_RETRY_INTERVAL_MS = 30_000;
/** A tracked symbol with no kline update for this long, while others flow, is stale. */
export const STALE_SYMBOL_AFTER_MS = 60_000;
/**
 * How often the stored symbols' statuses are read again from exchangeInfo (weight 20), in ms: a
 * symbol may go to BREAK, HALT or back to TRADING at any time (BINANCE.md 6.6).
 */
export const SYMBOL_STATUS_REFRESH_MS = 60 * 60_000;

export interface LiveLinkStatus {
  readonly binance: StreamClientStatus;
  readonly symbols: {
    readonly tracked: number;
    readonly fresh: number;
    readonly stale: number;
    readonly staleSymbols: string[];
  };
  readonly repair: GapRepairStatus;
  readonly writes: WriteBufferStats;
}

export interface LiveLink {
  /**
   * Starts streaming and repair. Never throws: when the universe cannot be read yet (the exchange
   * unreachable), it logs and tries again every SEED_RETRY_INTERVAL_MS while the API keeps serving.
   */
  start(): void;
  /** Stops streaming and repair, then flushes every buffered write. */
  stop(): Promise<void>;
  /** Re-reads the tracked symbols now (also done every SYMBOL_POLL_INTERVAL_MS). */
  refreshSymbols(): Promise<void>;
  tracked(): readonly string[];
  status(): LiveLinkStatus;
}

export interface LiveLinkDeps {
  readonly store: Store;
  readonly rest: Pick<RestClient, 'exchangeInfo' | 'ticker24h'>;
  readonly stream: StreamClient;
  readonly ingest: Ingest;
  readonly buffer: WriteBuffer;
  readonly repair: GapRepair;
  readonly logger: Logger;
  readonly now: () => number;
  /** SYMBOLS: replaces the universe (still subject to activation in the store). */
  readonly symbols: readonly string[] | undefined;
  readonly trackTop: number;
  /** How far back a symbol with no stored candle is repaired (BACKFILL_LOOKBACK). */
  readonly lookbackMs: number;
  readonly pollIntervalMs?: number;
  readonly seedRetryIntervalMs?: number;
  readonly statusRefreshMs?: number;
}

export function createLiveLink(deps: LiveLinkDeps): LiveLink {
  const { store, stream, repair, buffer, logger } = deps;
  let tracked: string[] = [];
  let pollTimer: NodeJS.Timeout | undefined;
  let seedTimer: NodeJS.Timeout | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let statusRead: Promise<void> | undefined;
  let stopped = false;

  async function begin(): Promise<void> {
    await seedUniverse();
    if (stopped) return;
    buffer.start();
    await refreshSymbols();
    if (stopped) return;
    stream.start();
    pollTimer = setInterval(() => {
      refreshSymbols().catch((error: unknown) =>
        logger.warn({ err: error }, 'reading tracked symbols failed'),
      );
      for (const { symbol, since } of deps.ingest.takeRepairs()) repair.request(symbol, since);
    }, deps.pollIntervalMs ?? SYMBOL_POLL_INTERVAL_MS);
    pollTimer.unref();
    // Not awaited: the statuses are shown, not needed to stream (SYMBOLS are stored as TRADING).
    readStatuses();
    statusTimer = setInterval(readStatuses, deps.statusRefreshMs ?? SYMBOL_STATUS_REFRESH_MS);
    statusTimer.unref();
  }

  function readStatuses(): void {
    if (statusRead) return; // the last read is still running
    statusRead = refreshStatuses()
      .catch((error: unknown) => {
        if (!stopped) logger.warn({ err: error }, 'reading symbol statuses from exchangeInfo failed');
      })
      .finally(() => {
        statusRead = undefined;
      });
  }

  /**
   * SPEC section 3: SYMBOLS, else the stored symbols, else the TRACK_TOP rule, stored for next time
   * (market/universe.ts: symbols an import or a backfill stored, inactive, choose no universe).
   */
  async function seedUniverse(): Promise<void> {
    // Chosen once a start picked it (the setting) or an active symbol is stored: from then on a
    // stored symbol's activation is the admin's to change, and is kept.
    const chosen =
      (await store.getSetting(UNIVERSE_CHOSEN_SETTING)) !== undefined ||
      (await store.listSymbols({ active: true })).length > 0 ||
      (await wasIngestedLive());
    if (deps.symbols) {
      const wanted = deps.symbols.map((symbol) => ({
        symbol,
        ...splitSymbol(symbol),
        status: 'TRADING',
        isActive: true,
      }));
      await store.insertSymbolsIfMissing(wanted);
      // The first start tracks every one, also one an import or a backfill stored inactive.
      if (!chosen) {
        const activated = await activateStored(store, deps.symbols);
        if (activated.length > 0) logger.info({ activated }, 'symbols named in SYMBOLS activated');
      }
    } else if (!chosen) {
      const [info, tickers] = await Promise.all([deps.rest.exchangeInfo(), deps.rest.ticker24h()]);
      const top = selectTopSymbols(info.items, tickers.items, deps.trackTop);
      const { created } = await store.insertSymbolsIfMissing(top);
      const activated = await activateStored(
        store,
        top.map((symbol) => symbol.symbol),
      );
      logger.info(
        { created: created.length, activated: activated.length },
        'tracked universe selected by 24h quote volume',
      );
    }
    await store.setSettingIfMissing(UNIVERSE_CHOSEN_SETTING, new Date(deps.now()).toISOString());
  }

  /**
   * Whether a stored symbol has price samples, which only live ingestion writes: a store from before
   * UNIVERSE_CHOSEN_SETTING whose admin deactivated every symbol had its universe chosen too.
   */
  async function wasIngestedLive(): Promise<boolean> {
    for (const { symbol } of await store.listSymbols()) {
      if ((await store.listPriceSamples({ symbol, limit: 1, order: 'desc' })).length > 0) return true;
    }
    return false;
  }

  /** Each stored symbol's status as exchangeInfo lists it; one the exchange no longer lists keeps its own. */
  async function refreshStatuses(): Promise<void> {
    const [info, stored] = await Promise.all([
      deps.rest.exchangeInfo(ALL_STATUSES_EXCHANGE_INFO_QUERY),
      store.listSymbols(),
    ]);
    const listed = new Map(info.items.map((item) => [item.symbol, item.status]));
    const changed: { symbol: string; from: string; to: string }[] = [];
    for (const record of stored) {
      const status = listed.get(record.symbol);
      if (status === undefined || status === record.status || stopped) continue;
      await store.setSymbolStatus(record.symbol, status);
      changed.push({ symbol: record.symbol, from: record.status, to: status });
    }
    if (changed.length > 0) logger.info({ changed }, 'symbol statuses changed on the exchange');
  }

  let refreshing: Promise<void> | undefined;
  let refreshQueued: Promise<void> | undefined;
  /**
   * One read-and-apply of the tracked symbols at a time: two at once (the poll and a change
   * announced on the bus) could apply the older read last. A call made while one runs waits for the
   * next run, which reads after it was made; calls made meanwhile share that run.
   */
  function refreshSymbols(): Promise<void> {
    if (!refreshing) {
      refreshing = applySymbols().finally(() => {
        refreshing = undefined;
      });
      return refreshing;
    }
    refreshQueued ??= refreshing
      .catch(() => undefined)
      .then(() => {
        refreshQueued = undefined;
        return refreshSymbols();
      });
    return refreshQueued;
  }

  async function applySymbols(): Promise<void> {
    if (stopped) return; // a run queued before the stop: the store may be closing
    const active = (await store.listSymbols({ active: true })).map((record) => record.symbol);
    const allowed = deps.symbols ? new Set(deps.symbols) : undefined;
    const next = allowed ? active.filter((symbol) => allowed.has(symbol)) : active;
    const before = new Set(tracked);
    const added = next.filter((symbol) => !before.has(symbol));
    const removed = tracked.filter((symbol) => !next.includes(symbol));
    if (added.length === 0 && removed.length === 0) return;
    // Where each new symbol's repair starts is read before it streams: once live candles are stored,
    // the last stored candle no longer marks the end of its history. A gap recorded as still owed
    // (by an earlier process, or before the symbol was deactivated) starts it earlier.
    const owed = new Map((await store.listRepairGaps()).map((gap) => [gap.symbol, gap.since]));
    const lookback = lookbackStart(deps.now(), deps.lookbackMs);
    const starts = await Promise.all(
      added.map(async (symbol) => {
        const stored = await storedRepairStart(store, symbol, lookback);
        return [symbol, Math.min(stored, owed.get(symbol) ?? Infinity)] as const;
      }),
    );
    // A symbol no longer tracked keeps the minute that was forming: no stream will close it now, so
    // it is repaired once more, and gap repair fetches that minute again once it has ended.
    // One with nothing stored yet has no such minute (and no lookback to fetch now it is untracked).
    const ends = (
      await Promise.all(
        removed.map(async (symbol) => {
          const from = await storedRepairStart(store, symbol, undefined);
          return from === undefined ? undefined : ([symbol, from] as const);
        }),
      )
    ).filter((end) => end !== undefined);
    tracked = next;
    stream.setSymbols(tracked);
    for (const [symbol, from] of starts) repair.request(symbol, from);
    const forming = bucketOpenTime(deps.now(), MINUTE_MS);
    for (const [symbol, from] of ends) repair.request(symbol, from, forming);
    logger.info({ added, removed, tracked: tracked.length }, 'tracked symbols changed');
  }

  return {
    start() {
      stopped = false;
      const attempt = (): void => {
        begin().catch((error: unknown) => {
          if (stopped) return;
          logger.error({ err: error }, 'live link could not start; retrying');
          seedTimer = setTimeout(attempt, deps.seedRetryIntervalMs ?? SEED_RETRY_INTERVAL_MS);
          seedTimer.unref();
        });
      };
      attempt();
    },
    async stop() {
      stopped = true;
      clearTimeout(seedTimer);
      clearInterval(pollTimer);
      clearInterval(statusTimer);
      stream.stop();
      repair.stop();
      await statusRead;
      await repair.idle();
      await buffer.stop();
    },
    refreshSymbols,
    tracked: () => tracked,
    status() {
      const binance = stream.status();
      const now = deps.now();
      // Stale only while others flow: when nothing arrives at all, the link state says so instead.
      const flowing =
        binance.lastMessageAt !== undefined && now - binance.lastMessageAt < STALE_SYMBOL_AFTER_MS;
      const staleSymbols = flowing
        ? tracked.filter((symbol) => now - (deps.ingest.lastKlineAt(symbol) ?? 0) > STALE_SYMBOL_AFTER_MS)
        : [];
      return {
        binance,
        symbols: {
          tracked: tracked.length,
          fresh: tracked.length - staleSymbols.length,
          stale: staleSymbols.length,
          staleSymbols,
        },
        repair: repair.status(),
        writes: buffer.stats(),
      };
    },
  };
}
