/**
 * One simulated stream connection: its subscriptions, the incoming-message limit, pings and the
 * pong deadline, lifetime, shutdown and stall (BINANCE.md 2.1, 2.2). Times are simulated ms.
 */
import { WebSocket } from 'ws';
import { takeControlFault, type FaultState } from './faults.js';
import type { BoundaryFrames } from './feed.js';
import type { FaultyFrameSender, FrameSink } from './frame-faults.js';
import { controlErrorText, handleControlMessage, type ControlSession } from './ws-control.js';

/** BINANCE.md 2.1: "The WebSocket server will send a ping frame every 20 seconds." */
export const PING_INTERVAL_MS = 20_000;
/** BINANCE.md 2.1: no pong "within a minute" → disconnected. */
export const PONG_TIMEOUT_MS = 60_000;
/** BINANCE.md 2.1: a connection "is only valid for 24 hours". */
export const CONNECTION_LIFETIME_MS = 24 * 60 * 60_000;
/** BINANCE.md 2.2: 1024 streams per connection. */
export const MAX_STREAMS_PER_CONNECTION = 1024;
/** BINANCE.md 2.2: pings, pongs and control messages count; more per second → disconnected. */
export const MAX_INCOMING_MESSAGES_PER_SECOND = 5;
const INCOMING_WINDOW_MS = 1_000;
/** A client this far behind is disconnected rather than buffered for (nothing buffers without bound). */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** Close codes. BINANCE.md 2.2 (community): over the message rate → 1008 "Too many requests". */
export const CLOSE_TOO_MANY_REQUESTS = { code: 1008, reason: 'Too many requests' } as const;
export const CLOSE_TOO_MANY_STREAMS = { code: 1008, reason: 'Too many streams' } as const;
export const CLOSE_PONG_TIMEOUT = { code: 1008, reason: 'Pong timeout' } as const;
export const CLOSE_LIFETIME = { code: 1000, reason: 'Connection lifetime expired' } as const;
export const CLOSE_SERVER_SHUTDOWN = { code: 1001, reason: 'Server shutdown' } as const;
export const CLOSE_SLOW_CONSUMER = { code: 1008, reason: 'Slow consumer' } as const;

export interface ConnectionLimits {
  readonly connectionLifetimeMs: number;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly maxStreamsPerConnection: number;
  readonly maxIncomingMessagesPerSecond: number;
}

export interface ConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  /** Path and query of the upgrade request. */
  readonly path: string;
  readonly streams: readonly string[];
  readonly combined: boolean;
  /** Simulated epoch ms. */
  readonly openedAt: number;
  /** Text frames, pings and pongs received (what the rate limit counts). */
  readonly messagesReceived: number;
  readonly framesSent: number;
  readonly pingsSent: number;
  readonly pongsReceived: number;
  readonly stalledUntil: number | undefined;
  readonly shutdownAt: number | undefined;
}

export interface ConnectionSetup {
  readonly id: number;
  readonly socket: WebSocket;
  readonly remoteAddress: string;
  readonly path: string;
  readonly combined: boolean;
  readonly openedAt: number;
  readonly limits: ConnectionLimits;
  readonly now: () => number;
  readonly wrapControlErrors: boolean;
  readonly faults: FaultState;
}

export class Connection implements FrameSink {
  readonly id: number;
  readonly socket: WebSocket;
  /** Set right after construction: it needs this connection as its sink. */
  sender: FaultyFrameSender | undefined;
  private readonly setup: ConnectionSetup;
  private readonly streams: string[] = [];
  private readonly streamSet = new Set<string>();
  private combined: boolean;
  private readonly incoming: number[] = [];
  private readonly pings: { payload: string; sentAt: number }[] = [];
  private nextPingAt: number;
  private stalledUntil = 0;
  private shutdownAt: number | undefined;
  private closing = false;
  private readonly counts = { messagesReceived: 0, framesSent: 0, pingsSent: 0, pongsReceived: 0 };
  private readonly session: ControlSession;

  constructor(setup: ConnectionSetup) {
    this.setup = setup;
    this.id = setup.id;
    this.socket = setup.socket;
    this.combined = setup.combined;
    this.nextPingAt = setup.openedAt + setup.limits.pingIntervalMs;
    this.session = {
      streams: () => this.streams,
      combined: () => this.combined,
      setCombined: (value) => {
        this.combined = value;
      },
      subscribe: (names) => this.subscribe(names),
      unsubscribe: (names) => this.unsubscribe(names),
    };
  }

  info(): ConnectionInfo {
    return {
      id: this.id,
      remoteAddress: this.setup.remoteAddress,
      path: this.setup.path,
      streams: [...this.streams],
      combined: this.combined,
      openedAt: this.setup.openedAt,
      ...this.counts,
      stalledUntil: this.stalledUntil > this.setup.now() ? this.stalledUntil : undefined,
      shutdownAt: this.shutdownAt,
    };
  }

  isOpen(): boolean {
    return !this.closing && this.socket.readyState === WebSocket.OPEN;
  }

  isClosed(): boolean {
    return this.socket.readyState === WebSocket.CLOSED;
  }

  has(stream: string): boolean {
    return this.streamSet.has(stream);
  }

  /** Whether frames of boundary `time` reach this connection (frames of a stall are lost). */
  receivesAt(time: number): boolean {
    return (
      this.isOpen() && time > this.setup.openedAt && time >= this.stalledUntil && this.streams.length > 0
    );
  }

  publish(frames: BoundaryFrames): void {
    for (const stream of this.streams) {
      const text = this.combined ? frames.combined(stream) : frames.data(stream);
      if (text !== undefined) this.sender?.sendData(text);
    }
  }

  send(text: string): void {
    if (!this.isOpen() || this.setup.now() < this.stalledUntil) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.close(CLOSE_SLOW_CONSUMER.code, CLOSE_SLOW_CONSUMER.reason);
      return;
    }
    this.socket.send(text);
    this.counts.framesSent++;
  }

  subscribeInitial(names: readonly string[]): void {
    if (!this.subscribe(names)) this.close(CLOSE_TOO_MANY_STREAMS.code, CLOSE_TOO_MANY_STREAMS.reason);
  }

  onMessage(text: string): void {
    if (!this.countIncoming()) return;
    const fault = takeControlFault(this.setup.faults);
    if (fault === 'lost') return;
    if (fault === 'refused') {
      this.send(controlErrorText(2, 'Invalid request', undefined, this.setup.wrapControlErrors));
      return;
    }
    const outcome = handleControlMessage(text, this.session, this.setup.wrapControlErrors);
    if (outcome.kind === 'tooManyStreams')
      this.close(CLOSE_TOO_MANY_STREAMS.code, CLOSE_TOO_MANY_STREAMS.reason);
    else this.send(outcome.text);
  }

  onPing(data: Buffer): void {
    if (this.countIncoming() && this.setup.now() >= this.stalledUntil) this.socket.pong(data);
  }

  /** Only a pong echoing an outstanding ping's payload keeps the connection alive (BINANCE.md 2.1). */
  onPong(data: Buffer): void {
    if (!this.countIncoming()) return;
    this.counts.pongsReceived++;
    const payload = data.toString();
    const index = this.pings.findIndex((ping) => ping.payload === payload);
    if (index >= 0) this.pings.splice(0, index + 1);
  }

  checkDeadlines(now: number, previousWakeAt: number): void {
    if (!this.isOpen() || now < this.stalledUntil) return;
    if (this.shutdownAt !== undefined && now >= this.shutdownAt) {
      return this.close(CLOSE_SERVER_SHUTDOWN.code, CLOSE_SERVER_SHUTDOWN.reason);
    }
    if (now >= this.setup.openedAt + this.setup.limits.connectionLifetimeMs) {
      return this.close(CLOSE_LIFETIME.code, CLOSE_LIFETIME.reason);
    }
    const oldest = this.pings[0];
    if (oldest && oldest.sentAt + this.setup.limits.pongTimeoutMs <= previousWakeAt) {
      return this.close(CLOSE_PONG_TIMEOUT.code, CLOSE_PONG_TIMEOUT.reason);
    }
    if (now >= this.nextPingAt) {
      const payload = String(now);
      this.socket.ping(payload);
      this.pings.push({ payload, sentAt: now });
      this.counts.pingsSent++;
      this.nextPingAt = now + this.setup.limits.pingIntervalMs;
    }
  }

  announceShutdown(combinedText: string, rawText: string, closeAt: number): void {
    this.send(this.combined ? combinedText : rawText);
    this.shutdownAt = Math.min(this.shutdownAt ?? closeAt, closeAt);
  }

  stallUntil(until: number): void {
    this.stalledUntil = Math.max(this.stalledUntil, until);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.sender?.drop();
    this.socket.close(code, reason);
  }

  /** Destroys the socket without a close frame. */
  terminate(): void {
    this.closing = true;
    this.sender?.drop();
    this.socket.terminate();
  }

  private subscribe(names: readonly string[]): boolean {
    const fresh = [...new Set(names)].filter((name) => !this.streamSet.has(name));
    if (this.streams.length + fresh.length > this.setup.limits.maxStreamsPerConnection) return false;
    for (const name of fresh) {
      this.streams.push(name);
      this.streamSet.add(name);
    }
    return true;
  }

  private unsubscribe(names: readonly string[]): void {
    for (const name of names) {
      if (!this.streamSet.delete(name)) continue;
      this.streams.splice(this.streams.indexOf(name), 1);
    }
  }

  /** Counts one incoming message; false (and the connection closing with 1008) when over the limit. */
  private countIncoming(): boolean {
    if (this.closing) return false;
    const now = this.setup.now();
    this.counts.messagesReceived++;
    this.incoming.push(now);
    while (this.incoming.length > 0 && this.incoming[0]! <= now - INCOMING_WINDOW_MS) this.incoming.shift();
    if (this.incoming.length <= this.setup.limits.maxIncomingMessagesPerSecond) return true;
    this.close(CLOSE_TOO_MANY_REQUESTS.code, CLOSE_TOO_MANY_REQUESTS.reason);
    return false;
  }
}
