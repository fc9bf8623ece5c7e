/**
 * One combined-stream WebSocket to Binance (BINANCE.md sections 1.2 and 2): opens
 * `/stream?streams=…`, subscribes the rest in paced SUBSCRIBE batches, answers every ping with a
 * pong echoing its payload, declares itself dead after DEAD_AFTER_MS without a frame (without a
 * data frame, on the connection carrying `!miniTicker@arr`), and hands every decoded frame up.
 * Outgoing frames (pongs first, then SUBSCRIBE/UNSUBSCRIBE) leave at most one per `spacingMs`, so
 * a connection stays under Binance's 5 messages per second.
 */
import WebSocket from 'ws';
import { decodeFrameDetailed, MAX_FRAME_BYTES, MINI_TICKER_ARRAY_STREAM } from './decode.js';
import type { MarketEvent } from './events.js';

/** A connection silent for this long is dead (SPEC section 7). */
export const DEAD_AFTER_MS = 30_000;
/** Streams named in the connection URL; the rest are subscribed (a long URL can be refused). */
export const URL_STREAMS = 100;
/** Streams per SUBSCRIBE message. */
export const SUBSCRIBE_BATCH_STREAMS = 200;
/** Default gap between outgoing frames: 4 per second, under Binance's limit of 5 (BINANCE.md 2.2). */
export const DEFAULT_OUTGOING_SPACING_MS = 250;
/** Largest frame accepted off the wire, in bytes: MAX_FRAME_BYTES characters of up to 4 UTF-8 bytes. */
export const MAX_PAYLOAD_BYTES = 4 * MAX_FRAME_BYTES;
/** How long the opening handshake may take. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * How long a SUBSCRIBE or UNSUBSCRIBE may go unanswered, in ms. Past it, or when the exchange
 * refuses one, the connection is given up (CLOSE_CONTROL_FAILED) and the owner reconnects: a
 * connection whose streams were never all subscribed must not pass for ready, nor be left unready.
 */
export const REPLY_TIMEOUT_MS = 10_000;
/** Close code reported for a connection declared dead (DEAD_AFTER_MS without a frame). */
const CLOSE_DEAD = 4000;
/** Close code reported when a control message went unanswered or was refused. */
const CLOSE_CONTROL_FAILED = 4001;

export interface ConnectionHandlers {
  /** A decoded market event (kline, miniTickers, serverShutdown). */
  onEvent(event: MarketEvent, receivedAt: number): void;
  /** Every stream of the connection is subscribed (SUBSCRIBE replies received). */
  onReady(): void;
  /** A frame that could not be decoded; counted and logged by the owner, never fatal. */
  onMalformed(reason: string, frame: string): void;
  /** The socket closed (or was declared dead); `code` is the WebSocket close code. */
  onClosed(code: number, reason: string): void;
}

export interface StreamConnectionOptions {
  readonly baseUrl: string;
  readonly streams: readonly string[];
  readonly handlers: ConnectionHandlers;
  readonly now: () => number;
  readonly spacingMs?: number;
  readonly deadAfterMs?: number;
  readonly replyTimeoutMs?: number;
  /** Overrides of URL_STREAMS and SUBSCRIBE_BATCH_STREAMS (tests exercise the pacing with few streams). */
  readonly urlStreams?: number;
  readonly subscribeBatchStreams?: number;
  /** Which miniTickers to decode (the tracked symbols); all when absent. */
  readonly wantsTicker?: (symbol: string) => boolean;
}

export interface StreamConnection {
  readonly id: number;
  readonly openedAt: number;
  streams(): readonly string[];
  lastMessageAt(): number | undefined;
  subscribe(streams: readonly string[]): void;
  unsubscribe(streams: readonly string[]): void;
  /** Closes cleanly (code 1000) and stops every timer. */
  close(): void;
}

let nextId = 1;

type Outgoing =
  | { kind: 'pong'; payload: Buffer }
  | { kind: 'control'; method: 'SUBSCRIBE' | 'UNSUBSCRIBE'; params: string[] };

export function openStreamConnection(options: StreamConnectionOptions): StreamConnection {
  const { handlers, now } = options;
  const id = nextId++;
  const spacingMs = options.spacingMs ?? DEFAULT_OUTGOING_SPACING_MS;
  const deadAfterMs = options.deadAfterMs ?? DEAD_AFTER_MS;
  const replyTimeoutMs = options.replyTimeoutMs ?? REPLY_TIMEOUT_MS;
  const streams = new Set(options.streams);
  const urlStreams = options.urlStreams ?? URL_STREAMS;
  const batchStreams = options.subscribeBatchStreams ?? SUBSCRIBE_BATCH_STREAMS;
  const inUrl = options.streams.slice(0, urlStreams);
  const url = `${options.baseUrl}/stream?streams=${inUrl.join('/')}`;
  const socket = new WebSocket(url, {
    autoPong: false,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    maxPayload: MAX_PAYLOAD_BYTES,
  });
  const openedAt = now();

  let pendingPong: Buffer | undefined; // only the latest ping needs its echo
  const controls: Outgoing[] = [];
  /** Control messages sent and not yet answered, by id, each with its reply deadline. */
  const awaiting = new Map<number, { id: number; method: string; deadline: NodeJS.Timeout }>();
  let requestId = 0;
  let lastMessage: number | undefined;
  let sendTimer: NodeJS.Timeout | undefined;
  let lastSentAt = 0;
  let closed = false;
  let ready = false;

  const deadTimer = setTimeout(() => {
    const heard = controlFramesShowLife() ? 'frame' : 'market data';
    abandon(CLOSE_DEAD, `no ${heard} for ${deadAfterMs} ms`);
  }, deadAfterMs);
  const touch = (): void => {
    lastMessage = now();
    deadTimer.refresh();
  };
  /**
   * Whether a ping or pong shows the connection alive. Not on the one carrying `!miniTicker@arr`,
   * which hears from the market every second: there Binance's pings (every 20 s, within the dead
   * time) would keep a feed stalled behind a live socket from ever being declared dead, and the 1 s
   * price samples it misses cannot be fetched again. A connection of klines alone may rightly go
   * quiet (halted symbols), so there they count.
   */
  const controlFramesShowLife = (): boolean => !streams.has(MINI_TICKER_ARRAY_STREAM);

  /** Gives the connection up without a close handshake (dead, or a control message failed). */
  function abandon(code: number, reason: string): void {
    if (closed) return;
    socket.terminate();
    finish(code, reason);
  }

  function finish(code: number, reason: string): void {
    if (closed) return;
    closed = true;
    clearTimeout(deadTimer);
    clearTimeout(sendTimer);
    for (const { deadline } of awaiting.values()) clearTimeout(deadline);
    awaiting.clear();
    handlers.onClosed(code, reason);
  }

  function pump(): void {
    if (closed || sendTimer || socket.readyState !== WebSocket.OPEN) return;
    const wait = lastSentAt + spacingMs - Date.now();
    if (wait > 0) {
      sendTimer = setTimeout(() => {
        sendTimer = undefined;
        pump();
      }, wait);
      return;
    }
    if (pendingPong) {
      socket.pong(pendingPong);
      pendingPong = undefined;
    } else {
      const next = controls.shift();
      if (!next || next.kind !== 'control') return;
      const frameId = ++requestId;
      const deadline = setTimeout(
        () =>
          abandon(CLOSE_CONTROL_FAILED, `no reply to ${next.method} ${frameId} within ${replyTimeoutMs} ms`),
        replyTimeoutMs,
      );
      awaiting.set(frameId, { id: frameId, method: next.method, deadline });
      socket.send(JSON.stringify({ method: next.method, params: next.params, id: frameId }));
    }
    lastSentAt = Date.now();
    if (pendingPong || controls.length > 0) pump();
  }

  function enqueue(method: 'SUBSCRIBE' | 'UNSUBSCRIBE', list: readonly string[]): void {
    // Before 'open' the stream set alone changes: the open-time control frames are built from it.
    if (socket.readyState === WebSocket.CONNECTING) return;
    for (let i = 0; i < list.length; i += batchStreams) {
      controls.push({ kind: 'control', method, params: list.slice(i, i + batchStreams) });
    }
    pump();
  }

  const markReadyWhenDone = (): void => {
    if (!ready && awaiting.size === 0 && controls.length === 0) {
      ready = true;
      handlers.onReady();
    }
  };

  socket.on('open', () => {
    touch();
    // What subscribe() and unsubscribe() changed while the socket was opening: the URL streams
    // since removed, and every stream wanted now beyond the URL's.
    const named = new Set(inUrl);
    const droppedFromUrl = inUrl.filter((stream) => !streams.has(stream));
    const beyondUrl = [...streams].filter((stream) => !named.has(stream));
    enqueue('UNSUBSCRIBE', droppedFromUrl);
    enqueue('SUBSCRIBE', beyondUrl);
    markReadyWhenDone();
  });
  // Once close() is called pings need no pong. Frames still arriving during the close handshake
  // are handed up: at a stop, the link flushes after its connections close, and the closing kline
  // of a minute that ended just before the stop is among them (a lease lost meanwhile has its
  // writes refused by the store's fence anyway).
  socket.on('ping', (payload: Buffer) => {
    if (closed) return;
    if (controlFramesShowLife()) touch();
    pendingPong = payload;
    pump();
  });
  socket.on('pong', () => {
    if (!closed && controlFramesShowLife()) touch();
  });
  socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
    touch();
    const receivedAt = now();
    // binaryType is the default 'nodebuffer', so a text frame arrives as one Buffer.
    const text = isBinary ? '' : (data as Buffer).toString('utf8');
    const { result, dropped, firstDropReason } = decodeFrameDetailed(text, {
      wantsTicker: options.wantsTicker,
    });
    if (!result.ok) {
      handlers.onMalformed(result.reason, text.slice(0, 200));
      return;
    }
    // The good miniTickers of a partly bad array are still delivered; the bad ones are counted.
    if (dropped > 0) {
      handlers.onMalformed(
        `${dropped} miniTicker(s) dropped; first: ${firstDropReason ?? 'unknown'}`,
        text.slice(0, 200),
      );
    }
    const event = result.event;
    if (event.type === 'reply' || event.type === 'controlError') {
      const request = typeof event.id === 'number' ? awaiting.get(event.id) : undefined;
      if (event.type === 'controlError') {
        // Binance writes most errors without an id (BINANCE.md 2.3): one then answers a request
        // still waiting, and leaves its streams unsubscribed just the same.
        const refused = request ?? (event.id === null ? awaiting.values().next().value : undefined);
        if (refused) {
          return abandon(
            CLOSE_CONTROL_FAILED,
            `${refused.method} refused: code ${event.code}: ${event.message}`,
          );
        }
        handlers.onMalformed(`control error ${event.code}: ${event.message}`, text);
      } else if (request) {
        clearTimeout(request.deadline);
        awaiting.delete(request.id);
      }
      markReadyWhenDone();
      return;
    }
    handlers.onEvent(event, receivedAt);
  });
  socket.on('error', () => {
    // 'close' always follows 'error' in ws; the reason is reported there.
  });
  socket.on('close', (code: number, reason: Buffer) => finish(code, reason.toString()));

  return {
    id,
    openedAt,
    streams: () => [...streams],
    lastMessageAt: () => lastMessage,
    subscribe(list) {
      const added = list.filter((stream) => !streams.has(stream));
      for (const stream of added) streams.add(stream);
      if (added.length > 0) enqueue('SUBSCRIBE', added);
    },
    unsubscribe(list) {
      const removed = list.filter((stream) => streams.delete(stream));
      if (removed.length > 0) enqueue('UNSUBSCRIBE', removed);
    },
    close() {
      if (closed) return;
      socket.close(1000, 'replaced or stopped');
      finish(1000, 'closed by client');
    },
  };
}
