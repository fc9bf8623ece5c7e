/**
 * A simulated Binance spot exchange speaking the protocol of BINANCE.md: REST under `/api/v3/…`
 * and combined market streams under `/stream?streams=…`, on one 127.0.0.1 port, over a
 * deterministic market (same seed → same trades, klines and tickers), with fault injection.
 * `npm run demo` runs the service against it; integration tests prove the service never loses a
 * candle against it.
 *
 * Time: the market, stream publication, pings, pong deadline, lifetime, stalls and the shutdown
 * delay run on the injected clock, in simulated ms (an accelerated clock runs hours in seconds).
 * The REST weight window, bans, `Retry-After` and `restDelay` run on real time, because they model
 * how fast the client sends requests and clients wait them out with real timers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRealClock, toClock, type Clock, type ClockLike } from './clock.js';
import { DEFAULT_WEIGHT_LIMIT_PER_MINUTE } from './exchange-info.js';
import { createFaults, createFaultState, type SimulatorFaults } from './faults.js';
import { createFeed } from './feed.js';
import { createMarket, type MarketOptions, type SimulatedMarket } from './market.js';
import { createRestHandler } from './rest.js';
import { FIRST_BAN_MS, WeightLimiter } from './rest-limits.js';
import { MAX_UPGRADE_HEADER_BYTES, StreamHub, type HubStats } from './ws.js';
import {
  CONNECTION_LIFETIME_MS,
  MAX_INCOMING_MESSAGES_PER_SECOND,
  MAX_STREAMS_PER_CONNECTION,
  PING_INTERVAL_MS,
  PONG_TIMEOUT_MS,
  type ConnectionInfo,
} from './ws-connection.js';

export { createAcceleratedClock, createRealClock, type Clock, type ClockLike } from './clock.js';
export type { ExchangeInfoBody, ExchangeInfoSymbol } from './exchange-info.js';
export type { RestErrorSpec, ServerShutdownOptions, SimulatorFaults } from './faults.js';
export { miniTickerChanges } from './feed.js';
export { createMarket, type MarketOptions, type SimulatedMarket } from './market.js';
export type { Ticker24h } from './stats.js';
export { DEFAULT_SYMBOLS, generatedSymbolNames, UNIVERSE_EXTRA_SYMBOLS } from './symbols.js';
export type { SimTrade } from './trades.js';
export { toCandle, toKlineRow, type KlineRow, type SimKline } from './wire.js';
export type { HubStats } from './ws.js';
export {
  CONNECTION_LIFETIME_MS,
  MAX_INCOMING_MESSAGES_PER_SECOND,
  MAX_STREAMS_PER_CONNECTION,
  PING_INTERVAL_MS,
  PONG_TIMEOUT_MS,
  type ConnectionInfo,
} from './ws-connection.js';

/** BINANCE.md 1.3: "2000ms" update speed for klines other than 1s (the text says every second). */
export const DEFAULT_KLINE_UPDATE_INTERVAL_MS = 2000;
/** Lead time of serverShutdown before the close; Binance promises none ([CL 2026-06-09]). */
export const DEFAULT_SERVER_SHUTDOWN_CLOSE_AFTER_MS = 10_000;
/** How far back the market's history reaches from the clock's start when `listedAt` is not given. */
export const DEFAULT_HISTORY_MS = 30 * 24 * 60 * 60_000;

export interface SimulatedExchangeOptions extends MarketOptions {
  /** Default: the real clock. */
  readonly clock?: ClockLike;
  readonly host?: string;
  /** Default 0: any free port. */
  readonly port?: number;
  /** REQUEST_WEIGHT per IP per minute (default 6000, BINANCE.md 3.8). */
  readonly weightLimitPerMinute?: number;
  /** The first auto-ban's length in real ms (default 2 minutes; doubles for repeat offenders). */
  readonly firstBanMs?: number;
  /** Simulated ms (defaults: BINANCE.md 2.1 values). */
  readonly connectionLifetimeMs?: number;
  readonly pingIntervalMs?: number;
  readonly pongTimeoutMs?: number;
  readonly serverShutdownCloseAfterMs?: number;
  /** 1000 or 2000 (default): how often a forming 1m kline is pushed. The close is always pushed. */
  readonly klineUpdateIntervalMs?: 1000 | 2000;
  readonly maxStreamsPerConnection?: number;
  readonly maxIncomingMessagesPerSecond?: number;
  /** Write control errors as `{"error":{code,msg},"id"}` like the live server, not flat as the docs. */
  readonly wrapControlErrors?: boolean;
  /**
   * Simulated ms REST klines lag the stream (BINANCE.md 6.4: the Database source): a row shows the
   * trades up to that long ago, so a minute that closed more recently is served incomplete. Default 0.
   */
  readonly restKlineLagMs?: number;
}

export interface ExchangeStats extends HubStats {
  readonly restRequests: number;
}

export interface SimulatedExchange {
  /** `http://127.0.0.1:PORT`; the client appends `/api/v3/…`. */
  readonly restUrl: string;
  /** `ws://127.0.0.1:PORT`; the client appends `/stream?streams=…`. */
  readonly wsUrl: string;
  readonly market: SimulatedMarket;
  readonly faults: SimulatorFaults;
  readonly clock: Clock;
  connections(): ConnectionInfo[];
  stats(): ExchangeStats;
  /** Used REST weight of an IP in the current window. */
  usedWeight(ip?: string): number;
  /** Clears every timer, destroys every socket and stops listening. */
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function createSimulatedExchange(
  options: SimulatedExchangeOptions = {},
): Promise<SimulatedExchange> {
  const clock = options.clock ? toClock(options.clock) : createRealClock();
  const seed = options.seed ?? 1;
  const listedAt = options.listedAt ?? Math.floor((clock.now() - DEFAULT_HISTORY_MS) / 60_000) * 60_000;
  const market = createMarket({ ...options, seed, listedAt });
  const faultState = createFaultState();
  const limiter = new WeightLimiter(
    options.weightLimitPerMinute ?? DEFAULT_WEIGHT_LIMIT_PER_MINUTE,
    options.firstBanMs ?? FIRST_BAN_MS,
  );
  const rest = createRestHandler({
    market,
    clock,
    faults: faultState,
    limiter,
    klineLagMs: options.restKlineLagMs,
  });
  const hub = new StreamHub({
    clock,
    feed: createFeed(market, options.klineUpdateIntervalMs ?? DEFAULT_KLINE_UPDATE_INTERVAL_MS),
    faults: faultState,
    seed,
    connectionLifetimeMs: options.connectionLifetimeMs ?? CONNECTION_LIFETIME_MS,
    pingIntervalMs: options.pingIntervalMs ?? PING_INTERVAL_MS,
    pongTimeoutMs: options.pongTimeoutMs ?? PONG_TIMEOUT_MS,
    maxStreamsPerConnection: options.maxStreamsPerConnection ?? MAX_STREAMS_PER_CONNECTION,
    maxIncomingMessagesPerSecond: options.maxIncomingMessagesPerSecond ?? MAX_INCOMING_MESSAGES_PER_SECOND,
    serverShutdownCloseAfterMs: options.serverShutdownCloseAfterMs ?? DEFAULT_SERVER_SHUTDOWN_CLOSE_AFTER_MS,
    wrapControlErrors: options.wrapControlErrors ?? false,
  });
  const server = createServer({ maxHeaderSize: MAX_UPGRADE_HEADER_BYTES }, (req, res) =>
    rest.handle(req, res),
  );
  server.on('upgrade', (req, socket, head: Buffer) => hub.handleUpgrade(req, socket, head));
  let address: AddressInfo;
  try {
    address = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  } catch (error) {
    await hub.shutdown();
    throw error;
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    restUrl: `http://${host}:${address.port}`,
    wsUrl: `ws://${host}:${address.port}`,
    market,
    faults: createFaults(faultState, market, hub),
    clock,
    connections: () => hub.connections(),
    stats: () => ({ ...hub.stats(), restRequests: rest.requests }),
    usedWeight: (ip = '127.0.0.1') => limiter.used(ip),
    close() {
      closing ??= (async () => {
        rest.close();
        await hub.shutdown();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}
