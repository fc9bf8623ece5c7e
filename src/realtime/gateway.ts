/**
 * The Socket.IO gateway (SPEC section 6) on the HTTP server's port and path `/socket.io`: typed
 * events, per-client limits, one room per symbol for the price fan-out, and the session-close push.
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Socket as TcpSocket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import { WebSocketServer, type ServerOptions as WsServerOptions } from 'ws';
import { SECOND_MS, type PriceSample } from '../domain/price.js';
import { UnavailableError } from '../domain/errors.js';
import type { CandleReader } from '../market/candles.js';
import type { PriceReader } from '../market/prices.js';
import type { Cache } from '../ports/cache.js';
import type { Store } from '../ports/store.js';
import { createBroadcaster } from './broadcaster.js';
import { createLocalFanout, type FanoutClient } from './fanout.js';
import { translateError } from './errors.js';
import type {
  AckResponse,
  ClientEventName,
  ClientToServerEvents,
  PriceUpdate,
  RealtimeErrorCode,
  ServerToClientEvents,
} from './events.js';
import { createHandlers, priceUpdate, type ClientSession } from './handlers.js';
import { createHistoryCache, MAX_HISTORY_SAMPLES } from './history-cache.js';
import { createRateLimiter } from './rate-limit.js';
import { startSessionPush, type SessionCloseChannel, type SessionPushStatus } from './session-push.js';

/** Largest message a client may send, in bytes: every valid payload is far smaller. */
export const MAX_MESSAGE_BYTES = 16 * 1024;
const ROOM_PREFIX = 'price:';
/**
 * How far before the hour asked for the cache's window is read, to see that it reaches back far
 * enough, in ms; a window shorter than the hour plus this is never asked.
 */
export const WINDOW_COVERAGE_MARGIN_MS = 60_000;
/**
 * Packets a client may have waiting from earlier event-loop turns before it stops getting price
 * updates. Updates are not sent `volatile`: Socket.IO drops a volatile packet whenever the
 * socket's previous write is still in flight, which loses all but one of a burst of updates for
 * ten symbols even for a fast client (bench/realtime.ts). The backlog is judged when a turn
 * creates its first packet for the client, never within one turn's burst: one exchange frame
 * brings a client up to MAX_SUBSCRIPTIONS_PER_CLIENT updates at once, which a fast client takes
 * whole. A client past this bound joins SLOW_ROOM, which price updates skip, until its buffer
 * drains: a slow client loses updates, and what waits for it stays under this bound plus one turn.
 * Price updates reach Engine.IO when they cannot be written past it (fanout.ts) or when the Redis
 * adapter carries them across instances.
 */
export const MAX_PENDING_PACKETS_PER_CLIENT = 64;
const SLOW_ROOM = 'slow-clients';
/**
 * Bytes that may wait for one client before its requests are refused with BACKLOG_FULL: what
 * Engine.IO holds for it plus, once it is on WebSocket, what its TCP socket holds (a client still
 * long-polling is sent nothing between its requests). Price updates already skip a slow client,
 * but replies to its own requests queue, so one that stops reading yet keeps asking would grow its
 * backlog without end. Judged as each request arrives, so one burst of requests is answered whole:
 * a client restoring 250 subscriptions with an hour of history each (about 45 MB) still gets every
 * one. A client that reads nothing at all stops answering pings and Engine.IO closes it
 * (pingInterval + pingTimeout, 45 s by default).
 */
export const MAX_CLIENT_BACKLOG_BYTES = 16 * 1024 * 1024;
/** Real ms between reads of the closed sessions not final yet at a session close. */
export const SESSION_FINAL_RETRY_MS = 2000;
/**
 * How long a closing WebSocket waits for the client's answering close frame before its TCP socket
 * is destroyed, in ms (ws's own default is 30 s). A client that no longer answers (a phone gone
 * off the network, a frozen tab) would otherwise hold the HTTP server's close, and with it the
 * service's stop, past SHUTDOWN_TIMEOUT_MS.
 */
export const WS_CLOSE_TIMEOUT_MS = 1000;

/** ws's server options with `closeTimeout`, which ws 8.23 takes and @types/ws does not list yet. */
type WebSocketServerOptions = WsServerOptions & { readonly closeTimeout?: number };

/** ws's server with WS_CLOSE_TIMEOUT_MS, as Engine.IO's `wsEngine`. */
class PromptlyClosingWebSocketServer extends WebSocketServer {
  constructor(options: WsServerOptions) {
    const withTimeout: WebSocketServerOptions = { ...options, closeTimeout: WS_CLOSE_TIMEOUT_MS };
    super(withTimeout);
  }
}
/**
 * Reads of a closed session, SESSION_FINAL_RETRY_MS apart, before it is pushed as it is: a closing
 * kline arriving late, or one lost with a connection and stored by gap repair once REST has it
 * (REST_KLINE_SETTLE_MS), and the new session's first candle, are waited for; a longer outage (or a
 * halt) holds the push back no further.
 */
export const MAX_SESSION_FINAL_READS = 15;

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** Where new price samples come from: the live link's ingest (`LiveLinkParts.onSamples`). */
export interface SampleSource {
  onSamples(listener: (samples: readonly PriceSample[]) => void): () => void;
}

export interface RealtimeSettings {
  readonly broadcastIntervalMs: number;
  readonly historyOnSubscribeMs: number;
  readonly samples?: SampleSource;
  /**
   * Samples for this instance's own clients only (its own fan-out), never sent to the other
   * instances: a standby's prices read from the store while its bus is down
   * (scale/standby-prices.ts).
   */
  readonly localSamples?: SampleSource;
  /** Real ms between a session boundary and its push (tests shorten it). */
  readonly sessionCloseGraceMs?: number;
  /**
   * Socket.IO's adapter for fan-out across instances (the Redis adapter, issue 6). With it, price
   * updates are broadcast for every changed symbol, since subscribers may sit on other instances,
   * and each instance pushes session closes to its own clients only.
   */
  readonly adapter?: ServerOptions['adapter'];
  /**
   * The cache: `historical_data` is read from its sliding window when that covers the hour asked
   * for, and closed sessions for the session-close push are shared through its session aggregates.
   */
  readonly cache?: Pick<Cache, 'windowMs' | 'window' | 'windowGap' | 'getSession' | 'setSessions'>;
  /** Session closes across instances (session-push.ts); without it this instance pushes on its own watch. */
  readonly sessionCloses?: SessionCloseChannel;
  /** Real ms to wait for the ingesting instance's announcement of a close (tests shorten it). */
  readonly sessionAnnounceWaitMs?: number;
}

export interface GatewayDeps {
  readonly server: HttpServer;
  readonly logger: FastifyBaseLogger;
  readonly store: Store;
  readonly prices: PriceReader;
  readonly candles: CandleReader;
  readonly now: () => number;
  /** CORS_ORIGINS, as for the REST API. */
  readonly corsOrigins: readonly string[];
  readonly settings: RealtimeSettings;
}

export interface RealtimeStatus {
  readonly clients: number;
  readonly subscriptions: number;
  readonly symbols: number;
  readonly updatesSent: number;
  readonly rateLimited: number;
  /** Clients skipped by price updates right now, their writes backed up. */
  readonly slowClients: number;
  /** Requests refused since start because too much waited unread for their client. */
  readonly backlogRefusals: number;
  readonly sessionCloses: SessionPushStatus;
}

export interface RealtimeGateway {
  readonly io: RealtimeServer;
  status(): RealtimeStatus;
  close(): Promise<void>;
}

const roomOf = (symbol: string): string => ROOM_PREFIX + symbol;
/** Characters of a client's event name repeated in an `error` (a name may be up to MAX_MESSAGE_BYTES). */
export const MAX_EVENT_NAME_CHARS = 64;
const eventName = (packet: readonly unknown[]): string => String(packet[0]).slice(0, MAX_EVENT_NAME_CHARS);

/**
 * A number that changes between event-loop turns in which packets are created: bumped by one
 * `setImmediate`, scheduled by the first packet of a turn, for all clients together.
 */
function createTurnCounter(): () => number {
  let turn = 0;
  let bumping = false;
  const bump = (): void => {
    turn++;
    bumping = false;
  };
  return () => {
    if (!bumping) {
      bumping = true;
      setImmediate(bump);
    }
    return turn;
  };
}

/** Whether a request asks to switch to WebSocket: both headers, as Node itself decides an upgrade. */
const isUpgrade = (request: IncomingMessage): boolean =>
  request.headers.upgrade?.toLowerCase() === 'websocket' &&
  /\bupgrade\b/i.test(request.headers.connection ?? '');

/** The TCP socket of a connection that started as WebSocket: its first request is the upgrade. */
const webSocketTcp = (conn: ClientSocket['conn']): TcpSocket | undefined =>
  isUpgrade(conn.request) ? conn.request.socket : undefined;

/**
 * The TCP sockets of connections that began on HTTP long-polling (socket.io-client's default) and
 * are upgrading to WebSocket: Engine.IO keeps the request of an upgrade only while it handles it, so
 * its socket is noted here, by Engine.IO session id, as its handshake is answered (Engine.IO's
 * `headers` event) and taken when the connection switches to it (`upgrade`). That event comes after
 * the session id is verified but before Engine.IO refuses a second upgrade of one session, so the
 * first attempt's socket is kept while it is open: a refused one cannot take its place. An entry
 * lives no longer than its TCP socket, so this holds at most one per open connection.
 */
function watchUpgrades(
  engine: RealtimeServer['engine'],
): (conn: ClientSocket['conn']) => TcpSocket | undefined {
  const upgrading = new Map<string, TcpSocket>();
  // Each connection's session id, read from its first transport as Engine.IO opens it (a transport
  // it upgrades to is not given one).
  const sessionIds = new WeakMap<ClientSocket['conn'], string>();
  engine.on('connection', (conn: ClientSocket['conn']) => sessionIds.set(conn, conn.transport.sid));
  engine.on('headers', (_headers: unknown, request: IncomingMessage) => {
    if (!isUpgrade(request)) return;
    const sessionId = new URL(request.url ?? '/', 'http://localhost').searchParams.get('sid');
    if (!sessionId) return; // a connection starting as WebSocket: webSocketTcp finds its socket
    const tcp = request.socket;
    if (upgrading.has(sessionId)) return;
    upgrading.set(sessionId, tcp);
    tcp.once('close', () => {
      if (upgrading.get(sessionId) === tcp) upgrading.delete(sessionId);
    });
  });
  return (conn) => {
    const sessionId = sessionIds.get(conn);
    if (sessionId === undefined) return undefined;
    const tcp = upgrading.get(sessionId);
    upgrading.delete(sessionId);
    return tcp;
  };
}

/**
 * Sends a client's Engine.IO packets of one event-loop turn in one system call instead of one per
 * packet. Bursts come together: a session close pushes `interval_data` for each symbol a client
 * holds, restored subscriptions are answered together, and price updates go through Engine.IO
 * across instances (the Redis adapter) or behind a packet still waiting (fanout.ts). Engine.IO would
 * write the first at once and the others as separate `write`s once that completes: on loopback the
 * kernel's send path, not JavaScript, is then most of the cost (bench/realtime.ts, measured on
 * price updates before fanout.ts took them). Here the first packet of a turn holds the transport (not
 * writable, as while a write is in flight, so Engine.IO queues), and `setImmediate` releases it the
 * way a completed write does (`writable` and the transport's `ready` event), with the TCP socket
 * corked for that flush, so the queue leaves as one `writev`. Only on a WebSocket transport whose
 * TCP socket is known (`tcp`): from the start for a connection that began as WebSocket, from its
 * upgrade for one that began on polling (whose HTTP responses are left as Engine.IO sends them).
 * Returns what to call on each `packetCreate` (undefined when the connection is left alone).
 */
function batchWrites(conn: ClientSocket['conn'], tcp: TcpSocket | undefined): (() => void) | undefined {
  if (!tcp) return undefined;
  const transport = conn.transport;
  let holding = false;
  const release = (): void => {
    holding = false;
    // A closing socket still sends what it queued (a disconnect packet) before it closes.
    if (conn.readyState === 'closed') return;
    tcp.cork();
    transport.writable = true;
    transport.emit('ready');
    tcp.uncork();
  };
  return () => {
    if (holding || !transport.writable) return;
    holding = true;
    transport.writable = false;
    setImmediate(release);
  };
}

export function createRealtimeGateway(deps: GatewayDeps): RealtimeGateway {
  const { store, prices, candles, now, settings } = deps;
  const logger = deps.logger.child({ module: 'realtime' });
  const io: RealtimeServer = new Server(deps.server, {
    path: '/socket.io',
    serveClient: false,
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    wsEngine: PromptlyClosingWebSocketServer,
    ...(settings.adapter ? { adapter: settings.adapter } : {}),
    cors: { origin: deps.corsOrigins.includes('*') ? '*' : [...deps.corsOrigins] },
  });
  const rooms = io.of('/').adapter.rooms;
  let rateLimited = 0;
  let backlogRefusals = 0;

  /**
   * The cache's window answers when it reaches back past `from` (it has been filling for long
   * enough) and no write to it was lost since `from` (its gap is older); otherwise, or when the
   * cache fails, the store does.
   */
  const fromWindow = async (symbol: string, from: number, to: number): Promise<PriceSample[] | undefined> => {
    const cache = settings.cache;
    if (!cache || settings.historyOnSubscribeMs + WINDOW_COVERAGE_MARGIN_MS > cache.windowMs)
      return undefined;
    try {
      // The window first, then its gap: a mark is written before anything newer is appended, so
      // samples read from past a hole mean its mark is there for the second read to see.
      const samples = await cache.window({ symbol, from: from - WINDOW_COVERAGE_MARGIN_MS, to });
      const gap = await cache.windowGap();
      const first = samples[0];
      return first && first.timestamp <= from && (gap === undefined || gap < from)
        ? samples.filter((sample) => sample.timestamp >= from)
        : undefined;
    } catch (error) {
      // The outage itself is logged once by the connection (adapters/redis/connection.ts).
      logger.debug({ err: error, symbol }, 'cache window unreadable; reading the store');
      return undefined;
    }
  };
  const history = createHistoryCache(
    async (symbol) => {
      const to = now();
      const from = to - settings.historyOnSubscribeMs;
      const samples =
        (await fromWindow(symbol, from, to)) ??
        (await prices.samples({ symbol, to, limit: MAX_HISTORY_SAMPLES })).filter(
          (sample) => sample.timestamp >= from,
        );
      return {
        symbol,
        data: samples
          .slice(-MAX_HISTORY_SAMPLES)
          .map((sample) => ({ timestamp: sample.timestamp, price: Number.parseFloat(sample.price) })),
      };
    },
    () => Math.floor(now() / SECOND_MS),
  );
  const handlers = createHandlers({
    store,
    prices,
    candles,
    now,
    history: (symbol) => history.read(symbol),
    sessionCache: settings.cache,
    updatePending: (symbol) => broadcaster.pending(symbol) || localBroadcaster.pending(symbol),
  });

  /** The handler of each client event of SPEC section 6; any other event is refused (UNKNOWN_EVENT). */
  const routes: Record<ClientEventName, (client: ClientSession, payload: unknown) => Promise<unknown>> = {
    subscribe: handlers.subscribe,
    unsubscribe: handlers.unsubscribe,
    get_all_symbols: handlers.getAllSymbols,
    get_multiple_prices: handlers.getMultiplePrices,
    get_interval_data: handlers.getIntervalData,
    get_recent_intervals: handlers.getRecentIntervals,
  };

  const latestUpdate = (symbol: string): Promise<PriceUpdate | undefined> =>
    prices.latest(symbol).then(priceUpdate, (error: unknown) => {
      if (error instanceof UnavailableError) return undefined;
      throw error;
    });
  const onBroadcastError = (error: unknown): void => logger.warn({ err: error }, 'price update failed');
  /** This instance's clients, by socket id, as its own fan-out sees them. */
  const fanoutClients = new Map<string, FanoutClient>();
  const localFanout = createLocalFanout({
    members: (symbol) => rooms.get(roomOf(symbol)),
    client: (id) => fanoutClients.get(id),
  });
  const broadcaster = createBroadcaster({
    intervalMs: settings.broadcastIntervalMs,
    fanout: {
      // Across instances this one cannot see the others' rooms: every change is broadcast.
      hasListeners: settings.adapter ? () => true : (symbol) => rooms.has(roomOf(symbol)),
      // Across instances through Socket.IO's broadcast, which the adapter carries to the others.
      send: settings.adapter
        ? (update) => io.to(roomOf(update.symbol)).except(SLOW_ROOM).emit('price_update', update)
        : (update) => localFanout.send(update),
    },
    latest: latestUpdate,
    onError: onBroadcastError,
  });
  const stopSamples = settings.samples?.onSamples((samples) => broadcaster.onSamples(samples));
  const localBroadcaster = createBroadcaster({
    intervalMs: settings.broadcastIntervalMs,
    fanout: {
      hasListeners: (symbol) => rooms.has(roomOf(symbol)),
      send: (update) => localFanout.send(update),
    },
    latest: latestUpdate,
    onError: onBroadcastError,
  });
  const stopLocalSamples = settings.localSamples?.onSamples((samples) => localBroadcaster.onSamples(samples));

  const subscribedSymbols = (): string[] =>
    [...rooms.keys()]
      .filter((room) => room.startsWith(ROOM_PREFIX))
      .map((room) => room.slice(ROOM_PREFIX.length));

  /** Ends the waits of session pushes for final closed sessions when the gateway closes. */
  const closing = new AbortController();
  /**
   * Pushes each subscribed symbol's closed session and the new one once the closed one is final and
   * the new one has begun (`ClosedSession.ready`), reading again only those not ready yet, every
   * SESSION_FINAL_RETRY_MS, up to MAX_SESSION_FINAL_READS reads.
   */
  const pushClosedSessions = async (openTime: number): Promise<void> => {
    let waiting = subscribedSymbols();
    for (let reads = 1; waiting.length > 0; reads++) {
      const lastRead = reads >= MAX_SESSION_FINAL_READS;
      const results = await Promise.all(
        waiting.map((symbol) =>
          handlers.closedSession(symbol, openTime).then(
            (closed) => ({ symbol, closed }),
            (error: unknown) => {
              if (!closing.signal.aborted) logger.warn({ err: error, symbol }, 'session close push failed');
              return undefined;
            },
          ),
        ),
      );
      if (closing.signal.aborted) return;
      waiting = [];
      for (const result of results) {
        if (!result) continue;
        if (!result.closed.ready && !lastRead) waiting.push(result.symbol);
        // Every instance pushes to its own subscribers.
        else io.local.to(roomOf(result.symbol)).emit('interval_data', result.closed.data);
      }
      if (waiting.length > 0) {
        await sleep(SESSION_FINAL_RETRY_MS, undefined, { signal: closing.signal }).catch(() => undefined);
        if (closing.signal.aborted) return;
      }
    }
  };
  const sessionPush = startSessionPush({
    now,
    sessionAt: (time) => candles.sessionAt(time),
    graceMs: settings.sessionCloseGraceMs,
    channel: settings.sessionCloses,
    announceWaitMs: settings.sessionAnnounceWaitMs,
    beforeAnnounce: (closed) => handlers.shareClosedSessions(closed.openTime),
    onError: (error) => logger.warn({ err: error }, 'sharing closed sessions failed'),
    push: (closed) => void pushClosedSessions(closed.openTime),
  });

  const currentTurn = createTurnCounter();
  const upgradedTcp = watchUpgrades(io.engine);
  /** Engine.IO connections that have had their one Socket.IO socket. */
  const served = new WeakSet<ClientSocket['conn']>();
  io.on('connection', (socket: ClientSocket) => {
    // One socket per connection, for its whole life: the state below (backlog, event budget, the
    // listeners on `conn`) is per socket, so a client leaving the namespace and joining it again
    // (`41` then `40` on one WebSocket, or two `40` at once) would start afresh past every limit,
    // piling listeners on `conn`. socket.io-client never does: it opens a new connection instead.
    if (served.has(socket.conn)) {
      socket.conn.close();
      return;
    }
    served.add(socket.conn);
    socket.once('disconnect', () => socket.conn.close());
    /** Packets created since Engine.IO last handed the client's buffer to its transport. */
    let pending = 0;
    let lastTurn = -1;
    let slow = false;
    /** Bytes of the packets counted by `pending` (what Engine.IO holds for the client). */
    let pendingBytes = 0;
    let tcp = webSocketTcp(socket.conn);
    /** What waits for the client: Engine.IO's buffer, and its TCP socket's when known. */
    const backlogBytes = (): number => pendingBytes + (tcp?.writableLength ?? 0);
    let backlogFull = false;
    let holdWrites = batchWrites(socket.conn, tcp);
    // Emitted just before Engine.IO flushes what waited during the upgrade: held here, that leaves
    // batched on the next turn too (a closing connection is left to close at once).
    const onUpgrade = (): void => {
      tcp = upgradedTcp(socket.conn);
      holdWrites = batchWrites(socket.conn, tcp);
      if (socket.conn.readyState === 'open') holdWrites?.();
    };
    // Socket.IO's connect packet may come after the upgrade, over the new transport.
    if (socket.conn.upgraded) onUpgrade();
    else socket.conn.once('upgrade', onUpgrade);
    // One listener per packet for both: this runs for every packet of every client.
    socket.conn.on('packetCreate', (packet: { data?: unknown }) => {
      const turn = currentTurn();
      if (turn !== lastTurn) {
        lastTurn = turn;
        if (pending > MAX_PENDING_PACKETS_PER_CLIENT && !slow) {
          slow = true;
          void socket.join(SLOW_ROOM);
        }
      }
      pending++;
      const data = packet.data;
      if (typeof data === 'string') pendingBytes += data.length;
      holdWrites?.();
    });
    socket.conn.on('drain', () => {
      pending = 0;
      pendingBytes = 0;
      if (slow) {
        slow = false;
        void socket.leave(SLOW_ROOM);
      }
    });
    const allow = createRateLimiter();
    const fanoutClient: FanoutClient = {
      slow: () => slow,
      // `tcp` is known on WebSocket only; its transport is writable when no write is in flight and
      // batchWrites holds nothing. Not once the TCP socket is ended, which ws does once both close
      // frames have passed. A frame written just before that follows ws's answer to the client's
      // close frame, which RFC 6455 forbids; the client, closing already, discards it.
      directSocket: () =>
        tcp?.writable && socket.conn.readyState === 'open' && socket.conn.transport.writable
          ? tcp
          : undefined,
      sendPacket: (packet) => void socket.conn.write(packet),
    };
    fanoutClients.set(socket.id, fanoutClient);
    socket.once('disconnect', () => {
      fanoutClients.delete(socket.id);
      localFanout.forget(fanoutClient);
    });
    const client: ClientSession = {
      subscriptions: new Set(),
      subscribing: new Map(),
      emit: (event, ...args) => socket.emit(event, ...args),
      join: (symbol) => void socket.join(roomOf(symbol)),
      leave: (symbol) => {
        void socket.leave(roomOf(symbol));
        localFanout.forget(fanoutClient, symbol);
      },
      receivesUpdates: () => !slow,
    };

    const fail = (
      event: string,
      error: unknown,
      ack: ((response: AckResponse<unknown>) => void) | undefined,
    ) => {
      const translated = translateError(error);
      if (!translated.expected) logger.error({ err: error, event }, 'realtime handler failed');
      // Past the backlog bound (an unsubscribe gets through it) only the short ack is sent.
      if (backlogBytes() <= MAX_CLIENT_BACKLOG_BYTES) {
        socket.emit('error', { message: translated.message, code: translated.code, event });
      }
      ack?.({ success: false, message: translated.message });
    };

    /**
     * Refuses an event with a failed ack, telling the client why with `error` when `tell`. Past the
     * backlog bound only a `tell` is answered: a client that floods events without reading would
     * otherwise grow its backlog by one reply per event, however many are refused.
     */
    const refuse = (
      packet: unknown[],
      tell: boolean,
      code: RealtimeErrorCode,
      message: string,
      ackMessage: string,
    ): void => {
      if (!tell && backlogBytes() > MAX_CLIENT_BACKLOG_BYTES) return;
      if (tell) socket.emit('error', { message, code, event: eventName(packet) });
      const ack = packet.at(-1);
      if (typeof ack === 'function')
        (ack as (response: AckResponse<unknown>) => void)({ success: false, message: ackMessage });
    };

    // Runs before any handler, for every event (unknown ones too): a flooding client, or one that
    // leaves its replies unread, is cut off here.
    socket.use((packet, next) => {
      // The event budget first, so refusals below stay within it too (each still costs an ack).
      const decision = allow();
      if (decision !== 'allow') {
        if (decision === 'throttle') {
          rateLimited++;
          logger.warn({ client: socket.id }, 'client throttled');
        }
        const tell = decision === 'throttle';
        return refuse(packet, tell, 'RATE_LIMITED', 'too many events; throttled for a while', 'rate limited');
      }
      const backlogOver = backlogBytes() > MAX_CLIENT_BACKLOG_BYTES;
      if (!backlogOver) backlogFull = false;
      // An unsubscribe only sheds load (its reply is a short ack), so it is never refused for this.
      else if (packet[0] !== 'unsubscribe') {
        backlogRefusals++;
        // Told once until its backlog falls under the bound; the refusals after it get no reply.
        const tell = !backlogFull;
        if (tell)
          logger.warn({ client: socket.id }, 'client leaves its replies unread: refusing its requests');
        backlogFull = true;
        const message = 'too much unread data waiting; read it before asking for more';
        return refuse(packet, tell, 'BACKLOG_FULL', message, 'backlog full');
      }
      if (!Object.hasOwn(routes, packet[0])) {
        const message = `unknown event ${eventName(packet)}`;
        return refuse(packet, true, 'UNKNOWN_EVENT', message, message);
      }
      next();
    });

    const on = (
      event: ClientEventName,
      run: (client: ClientSession, payload: unknown) => Promise<unknown>,
    ) => {
      const listener = (...args: unknown[]): void => {
        const last = args.at(-1);
        const ack =
          typeof last === 'function' ? (last as (response: AckResponse<unknown>) => void) : undefined;
        const payload = args[0] === last && ack ? undefined : args[0];
        run(client, payload).then(
          (data) => ack?.({ success: true, data }),
          (error: unknown) => fail(event, error, ack),
        );
      };
      socket.on(event, listener);
    };
    for (const [event, run] of Object.entries(routes)) on(event as ClientEventName, run);
  });

  return {
    io,
    status() {
      let subscriptions = 0;
      for (const symbol of subscribedSymbols()) subscriptions += rooms.get(roomOf(symbol))?.size ?? 0;
      return {
        clients: io.engine.clientsCount,
        subscriptions,
        symbols: subscribedSymbols().length,
        updatesSent: broadcaster.stats().updatesSent + localBroadcaster.stats().updatesSent,
        rateLimited,
        slowClients: rooms.get(SLOW_ROOM)?.size ?? 0,
        backlogRefusals,
        sessionCloses: sessionPush.status(),
      };
    },
    async close() {
      stopSamples?.();
      stopLocalSamples?.();
      closing.abort();
      broadcaster.close();
      localBroadcaster.close();
      sessionPush.stop();
      // Not io.close(): that would also close the HTTP server, which Fastify closes itself. Local:
      // through the Redis adapter a plain disconnectSockets lets go of every instance's clients.
      io.local.disconnectSockets(true);
      // Their disconnect packets leave on the next turn (batchWrites) before the transports close.
      await new Promise((resolve) => setImmediate(resolve));
      io.engine.close();
    },
  };
}
