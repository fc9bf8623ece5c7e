/**
 * The simulated market-stream server (BINANCE.md 1.2, 2.1–2.3): `/stream?streams=a/b` combined
 * connections (and raw `/ws/<stream>`), live control messages, the 1024-stream cap, the
 * 5-messages-per-second limit, server pings with pong deadline, the 24 h lifetime, and the
 * connection faults.
 *
 * One scheduler drives everything from the injected clock: it sleeps until the next simulated
 * second boundary, then publishes every boundary that has passed (a batch when the process was
 * late or the clock is fast) and checks each connection's deadlines. Due times are read from the
 * clock, never counted from timer ticks, so nothing drifts at any speed. All durations here are
 * simulated ms.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { realDelayMs, type Clock } from './clock.js';
import { SECOND_MS, SERVER_SHUTDOWN_STREAM, MINI_TICKER_ARRAY_STREAM, type Feed } from './feed.js';
import type { ConnectionFaultTarget, FaultState } from './faults.js';
import { FaultyFrameSender } from './frame-faults.js';
import { createRng } from './random.js';
import { Connection, type ConnectionInfo, type ConnectionLimits } from './ws-connection.js';

/** Upgrades with a longer URL are refused by Node before we see them; 1024 streams need ~25 KB. */
export const MAX_UPGRADE_HEADER_BYTES = 64 * 1024;
/** A SUBSCRIBE for 1024 streams is ~25 KB; anything far larger is not a control message. */
const MAX_INCOMING_PAYLOAD_BYTES = 1024 * 1024;
/** Boundaries published per wake-up at most, so a huge catch-up does not block the event loop. */
const MAX_BOUNDARIES_PER_WAKE = 3_600;

export interface HubOptions extends ConnectionLimits {
  readonly clock: Clock;
  readonly feed: Feed;
  readonly faults: FaultState;
  readonly seed: number;
  /** Delay between the serverShutdown event and the close, simulated ms. */
  readonly serverShutdownCloseAfterMs: number;
  readonly wrapControlErrors: boolean;
}

export interface HubStats {
  readonly upgradeAttempts: number;
  readonly connectionsAccepted: number;
  readonly connectionsRejected: number;
  readonly connectionsClosed: number;
}

export class StreamHub implements ConnectionFaultTarget {
  private readonly wss = new WebSocketServer({
    noServer: true,
    autoPong: false, // pings are answered by hand, so a stalled connection can stay silent
    maxPayload: MAX_INCOMING_PAYLOAD_BYTES,
  });
  private readonly live = new Map<number, Connection>();
  private nextId = 1;
  private nextBoundary: number;
  private previousWakeAt: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters = {
    upgradeAttempts: 0,
    connectionsAccepted: 0,
    connectionsRejected: 0,
    connectionsClosed: 0,
  };

  constructor(private readonly options: HubOptions) {
    const now = options.clock.now();
    this.nextBoundary = Math.floor(now / SECOND_MS) * SECOND_MS + SECOND_MS;
    this.previousWakeAt = now;
    this.schedule();
  }

  stats(): HubStats {
    return { ...this.counters };
  }

  connections(): ConnectionInfo[] {
    return [...this.live.values()].map((c) => c.info());
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.counters.upgradeAttempts++;
    const refuse = (status: string): void => {
      this.counters.connectionsRejected++;
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (this.closed) return refuse('503 Service Unavailable');
    if (this.options.faults.rejectConnections > 0) {
      this.options.faults.rejectConnections--;
      return refuse('503 Service Unavailable');
    }
    let url: URL;
    let names: string[];
    let combined: boolean;
    // A client's bad target (`//`, `/ws/%ZZ`) must not throw out of the server's listener.
    try {
      url = new URL(req.url ?? '/', 'http://simulator');
      if (url.pathname === '/stream') {
        // URLSearchParams has already undone any URL-encoding ([CL 2025-12-02], BINANCE.md 1.2).
        names = (url.searchParams.get('streams') ?? '').split('/');
        combined = true;
      } else if (url.pathname === '/ws' || url.pathname.startsWith('/ws/')) {
        names = decodeURIComponent(url.pathname.slice('/ws'.length)).split('/');
        combined = false;
      } else {
        return refuse('404 Not Found');
      }
    } catch {
      return refuse('400 Bad Request');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, url, names, combined));
  }

  private accept(ws: WebSocket, req: IncomingMessage, url: URL, names: string[], combined: boolean): void {
    if (this.closed) {
      ws.terminate(); // the handshake finished after close() began
      return;
    }
    const { clock, faults, seed } = this.options;
    const id = this.nextId++;
    this.counters.connectionsAccepted++;
    const connection = new Connection({
      id,
      socket: ws,
      remoteAddress: req.socket.remoteAddress ?? 'unknown',
      path: `${url.pathname}${url.search}`,
      combined,
      openedAt: clock.now(),
      limits: this.options,
      now: () => clock.now(),
      wrapControlErrors: this.options.wrapControlErrors,
      faults,
    });
    connection.sender = new FaultyFrameSender(
      connection,
      faults,
      createRng(seed ^ Math.imul(id, 0x9e3779b1)),
    );
    this.live.set(id, connection);
    ws.on('close', () => {
      this.live.delete(id);
      this.counters.connectionsClosed++;
    });
    ws.on('error', () => connection.terminate());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString()
        : data instanceof ArrayBuffer
          ? Buffer.from(data).toString()
          : data.toString();
      connection.onMessage(isBinary ? '' : text);
    });
    ws.on('ping', (data: Buffer) => connection.onPing(data));
    ws.on('pong', (data: Buffer) => connection.onPong(data));
    connection.subscribeInitial(names.filter((name) => name !== ''));
  }

  private schedule(): void {
    if (this.closed) return;
    const { clock } = this.options;
    this.timer = setTimeout(() => this.wake(), realDelayMs(clock, this.nextBoundary - clock.now()));
  }

  private wake(): void {
    this.timer = undefined;
    const { clock, feed } = this.options;
    const now = clock.now();
    for (let n = 0; this.nextBoundary <= now && n < MAX_BOUNDARIES_PER_WAKE; n++) {
      const time = this.nextBoundary;
      this.nextBoundary += SECOND_MS;
      const receivers = [...this.live.values()].filter((c) => c.receivesAt(time));
      if (receivers.length === 0) continue;
      const frames = feed.at(
        time,
        receivers.some((c) => c.has(MINI_TICKER_ARRAY_STREAM)),
      );
      for (const connection of receivers) connection.publish(frames);
    }
    // A pong that reached us while this process was busy counts: only deadlines that had already
    // passed at the previous wake-up (so every pong received since has been read) close a connection.
    for (const connection of this.live.values()) connection.checkDeadlines(clock.now(), this.previousWakeAt);
    this.previousWakeAt = now;
    this.schedule();
  }

  private targets(connectionId: number | undefined): Connection[] {
    const all = [...this.live.values()].filter((c) => c.isOpen());
    return connectionId === undefined ? all : all.filter((c) => c.id === connectionId);
  }

  serverShutdown(closeAfterMs: number | undefined, connectionId?: number): number {
    const now = this.options.clock.now();
    const data = JSON.stringify({ e: 'serverShutdown', E: now });
    const delay = closeAfterMs ?? this.options.serverShutdownCloseAfterMs;
    const targets = this.targets(connectionId);
    for (const c of targets)
      c.announceShutdown(`{"stream":"${SERVER_SHUTDOWN_STREAM}","data":${data}}`, data, now + delay);
    return targets.length;
  }

  drop(connectionId?: number): number {
    const targets = this.targets(connectionId);
    for (const c of targets) c.terminate();
    return targets.length;
  }

  close(code: number, reason: string, connectionId?: number): number {
    const targets = this.targets(connectionId);
    for (const c of targets) c.close(code, reason);
    return targets.length;
  }

  stall(simulatedMs: number, connectionId?: number): number {
    const until = this.options.clock.now() + simulatedMs;
    const targets = this.targets(connectionId);
    for (const c of targets) c.stallUntil(until);
    return targets.length;
  }

  /** Stops the scheduler and destroys every connection; resolves when all are closed. */
  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const closing = [...this.live.values()].map(
      (c) =>
        new Promise<void>((resolve) => (c.isClosed() ? resolve() : c.socket.once('close', () => resolve()))),
    );
    for (const c of this.live.values()) c.terminate();
    await Promise.all(closing);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
