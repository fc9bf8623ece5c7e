/**
 * The real app listening on 127.0.0.1 port 0 with Socket.IO, fed by the live link against the
 * simulated exchange on an accelerated clock (the ideas of live-harness.ts, with a clock start of
 * one's choosing so a session boundary can come within seconds).
 */
import type { FastifyInstance } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { SqliteStore } from '../../src/adapters/sqlite/store.js';
import {
  createAcceleratedClock,
  createSimulatedExchange,
  type Clock,
  type SimulatedExchange,
} from '../../src/binance/simulator/index.js';
import { MINUTE_MS } from '../../src/domain/intervals.js';
import { createSessionCalendar } from '../../src/domain/session-calendar.js';
import { buildApp } from '../../src/http/build-app.js';
import type { RealtimeSettings } from '../../src/realtime/gateway.js';
import type { Cache } from '../../src/ports/cache.js';
import { buildLiveLink, type LiveLinkParts } from '../../src/market/build-live-link.js';
import { createCandleReader } from '../../src/market/candles.js';
import { createPriceReader } from '../../src/market/prices.js';
import type {
  AckData,
  AckResponse,
  ClientEventName,
  ClientToServerEvents,
  ServerToClientEvents,
} from '../../src/realtime/events.js';
import type { SessionCloseChannel } from '../../src/realtime/session-push.js';
import { FAST_LINK_TIMINGS } from './live-harness.js';
import { checkAnswersAgainstDocument } from './openapi-check.js';

export type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Simulated ms per real ms: one simulated minute per real second. */
export const SPEED = 60;
export const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
/** Real ms between two updates of one symbol, at most one per interval. */
export const BROADCAST_INTERVAL_MS = 200;
const SESSION_HOURS = [1, 5, 9, 13, 17, 21];

export interface RealtimeHarness {
  readonly exchange: SimulatedExchange;
  readonly store: SqliteStore;
  readonly parts: LiveLinkParts;
  readonly app: FastifyInstance;
  readonly url: string;
  readonly now: () => number;
  /** A client that closes with the harness (after the app, so it sees the server's disconnect). */
  /** Over WebSocket only unless `transports` says otherwise (socket.io-client's default: polling, then upgrade). */
  client(options?: { autoConnect?: boolean; transports?: ('polling' | 'websocket')[] }): Client;
  stop(): Promise<void>;
}

export interface RealtimeHarnessOptions {
  /** The cache the gateway reads history windows and session aggregates from. */
  readonly cache?: Cache;
  /** Session closes across instances, and how long to wait for an announcement (real ms). */
  readonly sessionCloses?: SessionCloseChannel;
  readonly sessionAnnounceWaitMs?: number;
  /** A clock shared with other harnesses (instances of one deployment); `clockStart` is then unused. */
  readonly clock?: Clock;
  /** The simulated exchange's and the live link's symbols (default SYMBOLS). */
  readonly symbols?: readonly string[];
  /** Default BROADCAST_INTERVAL_MS. */
  readonly broadcastIntervalMs?: number;
  /** BACKFILL_LOOKBACK (default 20 minutes). */
  readonly lookbackMs?: number;
  /** Socket.IO's adapter across instances (a platform's `socketAdapter`). */
  readonly adapter?: RealtimeSettings['adapter'];
}

export async function startRealtimeHarness(
  clockStart: number,
  options: RealtimeHarnessOptions = {},
): Promise<RealtimeHarness> {
  const clock = options.clock ?? createAcceleratedClock({ start: clockStart, speed: SPEED });
  const now = () => clock.now();
  const symbols = options.symbols ?? SYMBOLS;
  const exchange = await createSimulatedExchange({
    clock,
    symbols,
    includeUniverseExtras: false,
    seed: 7,
  });
  const store = new SqliteStore({ path: ':memory:', now });
  const logger = pino({ level: 'silent' });
  const parts = buildLiveLink(
    {
      wsUrl: exchange.wsUrl,
      restUrl: exchange.restUrl,
      symbols,
      trackTop: 242,
      lookbackMs: options.lookbackMs ?? 20 * MINUTE_MS,
      ...FAST_LINK_TIMINGS,
    },
    { store, logger, now },
  );
  const calendar = createSessionCalendar({ hours: SESSION_HOURS, timeZone: 'UTC' });
  const app = await buildApp({
    logger,
    store,
    candles: createCandleReader({ store, calendar, now }),
    prices: createPriceReader({ store, now, live: parts.liveState }),
    live: parts.link,
    version: '0.0.0-test',
    now,
    realtime: {
      broadcastIntervalMs: options.broadcastIntervalMs ?? BROADCAST_INTERVAL_MS,
      historyOnSubscribeMs: 60 * MINUTE_MS,
      samples: { onSamples: parts.onSamples },
      sessionCloseGraceMs: 300,
      cache: options.cache,
      sessionCloses: options.sessionCloses,
      sessionAnnounceWaitMs: options.sessionAnnounceWaitMs,
      adapter: options.adapter,
    },
  });
  checkAnswersAgainstDocument(app); // its status has the live link's and Socket.IO's figures
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  parts.link.start();
  const clients: Client[] = [];
  let stopping: Promise<void> | undefined;
  return {
    exchange,
    store,
    parts,
    app,
    url,
    now,
    client(options = {}) {
      const client: Client = connect(url, { transports: ['websocket'], reconnectionDelay: 50, ...options });
      clients.push(client);
      return client;
    },
    stop() {
      stopping ??= (async () => {
        await parts.link.stop();
        await app.close();
        for (const client of clients) client.close();
        await exchange.close();
      })();
      return stopping;
    },
  };
}

/**
 * Emits `event` (any payload, valid or not) and resolves with its ack. The typed `emitWithAck`
 * cannot infer an optional ack's type, hence the untyped view.
 */
export async function ask<E extends ClientEventName>(
  client: Client,
  event: E,
  payload?: unknown,
): Promise<AckResponse<AckData[E]>> {
  const untyped: Socket = client;
  const args = payload === undefined ? [] : [payload];
  return (await untyped.emitWithAck(event, ...args)) as AckResponse<AckData[E]>;
}

/** The next `event` the client receives that satisfies `accept`, within `timeoutMs` real ms. */
export function nextEvent<E extends keyof ServerToClientEvents>(
  client: Client,
  event: E,
  accept: (payload: Parameters<ServerToClientEvents[E]>[0]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  type Payload = Parameters<ServerToClientEvents[E]>[0];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(event, listener as never);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: Payload): void => {
      if (!accept(payload)) return;
      clearTimeout(timer);
      client.off(event, listener as never);
      resolve(payload);
    };
    client.on(event, listener as never);
  });
}

/** Everything `event` brings during `realMs`. */
export async function collect<E extends keyof ServerToClientEvents>(
  client: Client,
  event: E,
  realMs: number,
): Promise<Parameters<ServerToClientEvents[E]>[0][]> {
  const seen: Parameters<ServerToClientEvents[E]>[0][] = [];
  const listener = (payload: Parameters<ServerToClientEvents[E]>[0]): void => void seen.push(payload);
  client.on(event, listener as never);
  await sleep(realMs);
  client.off(event, listener as never);
  return seen;
}
