/**
 * The Binance market-stream link (SPEC section 7): `<symbol>@kline_1m` for every tracked symbol plus
 * `!miniTicker@arr`, spread over as many connections as 1024 streams each need. Each slot keeps one
 * live connection: it reconnects with exponential backoff and jitter (1 s to 60 s, reset by the
 * first good message), replaces its connection at 23 h or at once on
 * `serverShutdown` (the new one subscribed before the old one closes; if the old one closes first,
 * the new one takes its place), and slows its outgoing pace after a 1008 close.
 * Every reconnect or replacement is reported through `onResume` so gap repair fetches what the
 * stream may have missed; duplicates from the overlap are harmless (merges are idempotent).
 */
import type { Logger } from 'pino';
import { HOUR_MS } from '../domain/intervals.js';
import { KLINE_STREAM_SUFFIX, MINI_TICKER_ARRAY_STREAM } from './decode.js';
import type { MarketEvent } from './events.js';
import {
  DEFAULT_OUTGOING_SPACING_MS,
  openStreamConnection,
  type StreamConnection,
} from './stream-connection.js';

/** Binance's cap on streams per connection (BINANCE.md 2.2). */
export const MAX_STREAMS_PER_CONNECTION = 1024;
/** Connections are replaced before Binance's 24 h cut (the official connector uses 23 h). */
export const CONNECTION_MAX_AGE_MS = 23 * HOUR_MS;
/**
 * Reconnect delays, in ms: drawn between the base and a cap that doubles with each attempt (first
 * 2 s), up to the maximum. Never under the base, so an exchange that accepts, sends one frame and
 * closes (resetting the backoff, as SPEC section 7 says) draws a reconnect every 1.5 s on average:
 * under Binance's 300 attempts per 5 minutes per IP (BINANCE.md 2.2) for one connection.
 */
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_MAX_MS = 60_000;
/** After a 1008 "Too many requests" close, outgoing spacing doubles, up to this. */
export const MAX_OUTGOING_SPACING_MS = 2000;
/** WebSocket close code Binance uses for exceeding the message rate (BINANCE.md 2.2, community). */
export const CLOSE_TOO_MANY_REQUESTS = 1008;

export const klineStream = (symbol: string): string => `${symbol.toLowerCase()}${KLINE_STREAM_SUFFIX}`;
const symbolOfStream = (stream: string): string | undefined =>
  stream.endsWith(KLINE_STREAM_SUFFIX)
    ? stream.slice(0, -KLINE_STREAM_SUFFIX.length).toUpperCase()
    : undefined;

export interface StreamClientOptions {
  readonly baseUrl: string;
  readonly logger: Logger;
  readonly now: () => number;
  /** Market events from every connection, in arrival order. */
  readonly onEvent: (event: MarketEvent, receivedAt: number) => void;
  /** These symbols' streams resumed after a gap or a replacement; `since` is the last frame before it. */
  readonly onResume: (symbols: string[], since: number | undefined) => void;
  readonly random?: () => number;
  readonly maxStreamsPerConnection?: number;
  readonly maxAgeMs?: number;
  readonly deadAfterMs?: number;
  readonly replyTimeoutMs?: number;
  readonly backoffBaseMs?: number;
  readonly outgoingSpacingMs?: number;
  readonly urlStreams?: number;
  readonly subscribeBatchStreams?: number;
}

export interface StreamClientStatus {
  readonly state: 'stopped' | 'connecting' | 'connected' | 'reconnecting';
  readonly connections: number;
  readonly streams: number;
  readonly lastMessageAt: number | undefined;
  readonly reconnects: number;
  readonly replacements: number;
  readonly malformed: number;
  readonly lastError: string | undefined;
  /** Current gap between outgoing frames, in ms (grows after a 1008 close). */
  readonly outgoingSpacingMs: number;
}

export interface StreamClient {
  /** Sets the tracked symbols; streams are subscribed or unsubscribed live. */
  setSymbols(symbols: readonly string[]): void;
  start(): void;
  stop(): void;
  status(): StreamClientStatus;
}

interface Slot {
  streams: Set<string>;
  current: StreamConnection | undefined;
  ready: boolean;
  replacement: StreamConnection | undefined;
  attempt: number;
  reconnectTimer: NodeJS.Timeout | undefined;
  ageTimer: NodeJS.Timeout | undefined;
  /**
   * The last frame of a ready (fully subscribed) current connection: where a gap starts. Before the
   * first frame, the time of the slot's first connection attempt.
   */
  lastFrameAt: number | undefined;
  /** Set once the slot has lost its connection: the next ready connection reports a resume. */
  gap: boolean;
}

export function createStreamClient(options: StreamClientOptions): StreamClient {
  const { logger, now } = options;
  const random = options.random ?? Math.random;
  const perConnection = options.maxStreamsPerConnection ?? MAX_STREAMS_PER_CONNECTION;
  const maxAgeMs = options.maxAgeMs ?? CONNECTION_MAX_AGE_MS;
  const backoffBaseMs = options.backoffBaseMs ?? BACKOFF_BASE_MS;
  const slots: Slot[] = [];
  let running = false;
  let spacingMs = options.outgoingSpacingMs ?? DEFAULT_OUTGOING_SPACING_MS;
  let reconnects = 0;
  let replacements = 0;
  let malformed = 0;
  let lastError: string | undefined;
  let lastMessageAt: number | undefined;
  /** Connections that received `serverShutdown`: the exchange closes them soon (BINANCE.md 1.6). */
  const shutdownAnnounced = new WeakSet<StreamConnection>();

  const symbolsOf = (slot: Slot): string[] =>
    [...slot.streams].map(symbolOfStream).filter((s): s is string => s !== undefined);

  function connect(slot: Slot, role: 'current' | 'replacement'): void {
    // A slot whose first connections never get ready still resumes from an explicit start: the
    // repair that started with it fetched up to about now, and by the time a later resume is
    // repaired the live stream has stored newer minutes, so "from the last stored candle" would
    // skip the outage.
    slot.lastFrameAt ??= now();
    let connection: StreamConnection | undefined = undefined;
    let good = false;
    connection = openStreamConnection({
      baseUrl: options.baseUrl,
      streams: [...slot.streams],
      now,
      spacingMs,
      deadAfterMs: options.deadAfterMs,
      replyTimeoutMs: options.replyTimeoutMs,
      urlStreams: options.urlStreams,
      wantsTicker: (symbol) => trackedSymbols.has(symbol),
      subscribeBatchStreams: options.subscribeBatchStreams,
      handlers: {
        onEvent(event, receivedAt) {
          if (!good) {
            good = true;
            slot.attempt = 0; // backoff resets after the first good message (SPEC section 7)
          }
          lastMessageAt = receivedAt;
          // Not before ready: a reconnecting connection's URL streams flow while its SUBSCRIBE is
          // pending, and the gap it resumes after starts at the last frame before the loss.
          if (connection === slot.current && slot.ready) slot.lastFrameAt = receivedAt;
          if (event.type === 'serverShutdown') {
            logger.info({ connection: connection?.id }, 'serverShutdown: replacing the connection now');
            // A replacement told to go is replaced in turn once it takes over, not left to be cut.
            if (connection) shutdownAnnounced.add(connection);
            if (connection === slot.current) replace(slot);
            return;
          }
          options.onEvent(event, receivedAt);
        },
        onReady() {
          if (connection === slot.replacement) {
            const old = slot.current;
            const since = slot.lastFrameAt;
            slot.current = connection;
            slot.replacement = undefined;
            slot.ready = true;
            slot.gap = false;
            old?.close();
            replacements++;
            scheduleAge(slot);
            options.onResume(symbolsOf(slot), since);
            replaceIfAnnounced(slot);
          } else if (connection === slot.current) {
            slot.ready = true;
            scheduleAge(slot);
            if (slot.gap) {
              slot.gap = false;
              options.onResume(symbolsOf(slot), slot.lastFrameAt);
            }
          }
        },
        onMalformed(reason, frame) {
          malformed++;
          logger.warn({ reason, frame, connection: connection?.id }, 'malformed frame ignored');
        },
        onClosed(code, reason) {
          if (!running) return;
          if (code === CLOSE_TOO_MANY_REQUESTS) {
            spacingMs = Math.min(Math.max(spacingMs, 1) * 2, MAX_OUTGOING_SPACING_MS);
            logger.warn({ spacingMs }, 'closed for too many requests: slowing down');
          }
          if (code !== 1000) lastError = `connection closed ${code}${reason ? `: ${reason}` : ''}`;
          if (connection === slot.replacement) {
            slot.replacement = undefined; // the current one still serves; try again later
            scheduleRetry(slot, 'replacement');
          } else if (connection === slot.current) {
            slot.current = undefined;
            slot.ready = false;
            slot.gap = true;
            clearTimeout(slot.ageTimer);
            logger.warn({ code, reason }, 'stream connection lost');
            if (slot.replacement) {
              // The replacement already opening takes over: it reports the resume when ready, and
              // its own loss schedules the reconnect. A retry now would open a second connection.
              slot.current = slot.replacement;
              slot.replacement = undefined;
              clearTimeout(slot.reconnectTimer);
              reconnects++;
              replaceIfAnnounced(slot);
            } else {
              scheduleRetry(slot, 'current');
            }
          }
        },
      },
    });
    if (role === 'current') slot.current = connection;
    else slot.replacement = connection;
  }

  function scheduleRetry(slot: Slot, role: 'current' | 'replacement'): void {
    clearTimeout(slot.reconnectTimer);
    // Jitter above the base: a random delay between the base and the exponential cap spreads
    // reconnecting clients apart and never comes sooner than the base (SPEC section 7: 1 s to 60 s).
    const cap = Math.min(BACKOFF_MAX_MS, backoffBaseMs * 2 ** (slot.attempt + 1));
    const delay = backoffBaseMs + Math.floor(random() * (cap - backoffBaseMs));
    slot.attempt++;
    slot.reconnectTimer = setTimeout(() => {
      if (!running || !slots.includes(slot)) return;
      if (role === 'current' && !slot.current) {
        reconnects++;
        connect(slot, 'current');
      } else if (role === 'replacement' && slot.current && !slot.replacement) {
        connect(slot, 'replacement');
      }
    }, delay);
  }

  function scheduleAge(slot: Slot): void {
    clearTimeout(slot.ageTimer);
    slot.ageTimer = setTimeout(() => replace(slot), maxAgeMs);
  }

  function replace(slot: Slot): void {
    if (!running || slot.replacement || !slot.current) return;
    connect(slot, 'replacement');
  }

  /** A connection that became current after its own serverShutdown is replaced at once. */
  function replaceIfAnnounced(slot: Slot): void {
    if (slot.current && shutdownAnnounced.has(slot.current)) replace(slot);
  }

  function closeSlot(slot: Slot): void {
    clearTimeout(slot.reconnectTimer);
    clearTimeout(slot.ageTimer);
    slot.replacement?.close();
    slot.current?.close();
  }

  function apply(desired: readonly string[]): void {
    const wanted = new Set(desired);
    for (const slot of slots) {
      const removed = [...slot.streams].filter((stream) => !wanted.has(stream));
      for (const stream of removed) slot.streams.delete(stream);
      if (removed.length > 0) {
        slot.current?.unsubscribe(removed);
        slot.replacement?.unsubscribe(removed);
      }
    }
    const held = new Set(slots.flatMap((slot) => [...slot.streams]));
    const added = desired.filter((stream) => !held.has(stream));
    for (const slot of slots) {
      const room = perConnection - slot.streams.size;
      if (room <= 0 || added.length === 0) continue;
      const batch = added.splice(0, room);
      for (const stream of batch) slot.streams.add(stream);
      slot.current?.subscribe(batch);
      slot.replacement?.subscribe(batch);
    }
    while (added.length > 0) {
      const slot: Slot = {
        streams: new Set(added.splice(0, perConnection)),
        current: undefined,
        ready: false,
        replacement: undefined,
        attempt: 0,
        reconnectTimer: undefined,
        ageTimer: undefined,
        lastFrameAt: undefined,
        gap: false,
      };
      slots.push(slot);
      if (running) connect(slot, 'current');
    }
    for (const slot of slots.filter((s) => s.streams.size === 0)) {
      closeSlot(slot);
      slots.splice(slots.indexOf(slot), 1);
    }
  }

  let desired: string[] = [MINI_TICKER_ARRAY_STREAM];
  let trackedSymbols = new Set<string>();

  return {
    setSymbols(symbols) {
      trackedSymbols = new Set(symbols);
      desired = [MINI_TICKER_ARRAY_STREAM, ...symbols.map(klineStream)];
      apply(desired);
    },
    start() {
      if (running) return;
      running = true;
      apply(desired);
      for (const slot of slots) if (!slot.current) connect(slot, 'current');
    },
    stop() {
      running = false;
      for (const slot of slots) closeSlot(slot);
      for (const slot of slots) {
        slot.current = undefined;
        slot.replacement = undefined;
        slot.ready = false;
      }
    },
    status() {
      const allReady = slots.length > 0 && slots.every((slot) => slot.ready);
      const state = !running
        ? 'stopped'
        : allReady
          ? 'connected'
          : reconnects > 0
            ? 'reconnecting'
            : 'connecting';
      return {
        state,
        connections: slots.reduce((n, slot) => n + (slot.current ? 1 : 0) + (slot.replacement ? 1 : 0), 0),
        streams: slots.reduce((n, slot) => n + slot.streams.size, 0),
        lastMessageAt,
        reconnects,
        replacements,
        malformed,
        lastError,
        outgoingSpacingMs: spacingMs,
      };
    },
  };
}
