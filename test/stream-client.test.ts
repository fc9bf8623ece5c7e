/**
 * The stream client against the simulated exchange, which closes a connection with 1008 past
 * 5 incoming messages per second and after a minute without a pong (BINANCE.md section 2).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { MarketEvent } from '../src/binance/events.js';
import { createSimulatedExchange, type SimulatedExchange } from '../src/binance/simulator/index.js';
import {
  createStreamClient,
  type StreamClient,
  type StreamClientOptions,
} from '../src/binance/stream-client.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT'];
/** Bounded wait for a condition, in real ms. */
const WAIT_LIMIT_MS = 10_000;

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('stream client', () => {
  let exchange: SimulatedExchange | undefined;
  let client: StreamClient | undefined;
  afterEach(async () => {
    client?.stop();
    await exchange?.close();
  });

  async function start(options: Partial<StreamClientOptions> & { pingIntervalMs?: number } = {}) {
    exchange = await createSimulatedExchange({
      symbols: SYMBOLS,
      includeUniverseExtras: false,
      pingIntervalMs: options.pingIntervalMs,
    });
    const events: MarketEvent[] = [];
    client = createStreamClient({
      baseUrl: exchange.wsUrl,
      logger: pino({ level: 'silent' }),
      now: Date.now,
      onEvent: (event) => events.push(event),
      onResume: () => undefined,
      // One stream in the URL and one per SUBSCRIBE: five control messages to pace.
      urlStreams: 1,
      subscribeBatchStreams: 1,
      ...options,
    });
    client.setSymbols(SYMBOLS);
    client.start();
    return { events, exchange };
  }

  it('subscribes stream by stream at under 5 messages a second and answers every ping with its payload', async () => {
    // Pings every 100 ms compete with the SUBSCRIBEs for the same 5 messages a second.
    const { events, exchange: sim } = await start({ pingIntervalMs: 100 });
    await waitFor(() => client!.status().state === 'connected');
    await sleep(2500);
    const [connection] = sim.connections();
    expect(connection?.streams).toHaveLength(SYMBOLS.length + 1);
    expect(connection?.pongsReceived).toBeGreaterThan(0);
    expect(client!.status()).toMatchObject({ reconnects: 0, connections: 1, lastError: undefined });
    expect(events.some((event) => event.type === 'kline')).toBe(true);
    expect(events.some((event) => event.type === 'miniTickers')).toBe(true);
  });

  it('is closed with 1008 when it sends too fast, and then slows down', async () => {
    await start({ outgoingSpacingMs: 0, backoffBaseMs: 10 });
    // Two more streams (unknown to the exchange, which accepts and never feeds them): 7 SUBSCRIBEs at once.
    client!.setSymbols([...SYMBOLS, 'AAAUSDT', 'BBBUSDT']);
    await waitFor(() => (client?.status().lastError ?? '').includes('1008'));
    expect(client!.status().outgoingSpacingMs).toBeGreaterThan(0);
    await waitFor(() => client!.status().state === 'connected');
  });

  it('resumes from when it first connected when the exchange refused its first connections', async () => {
    exchange = await createSimulatedExchange({ symbols: SYMBOLS, includeUniverseExtras: false });
    exchange.faults.rejectConnections(3);
    const resumes: { symbols: string[]; since: number | undefined }[] = [];
    client = createStreamClient({
      baseUrl: exchange.wsUrl,
      logger: pino({ level: 'silent' }),
      now: Date.now,
      onEvent: () => undefined,
      onResume: (symbols, since) => resumes.push({ symbols, since }),
      backoffBaseMs: 20,
    });
    client.setSymbols(SYMBOLS);
    const before = Date.now();
    client.start();
    const after = Date.now();
    await waitFor(() => resumes.length === 1);
    expect(exchange.stats().connectionsRejected).toBe(3);
    // Nothing streamed before the first ready connection: the gap to repair began at the start.
    expect(resumes[0]!.symbols.sort()).toEqual([...SYMBOLS].sort());
    expect(resumes[0]!.since).toBeGreaterThanOrEqual(before);
    expect(resumes[0]!.since).toBeLessThanOrEqual(after);
  });

  it('replaces a replacement told of a server shutdown while subscribing, as soon as it takes over', async () => {
    // Five SUBSCRIBEs a quarter second apart: a replacement is subscribing for over a second.
    const { exchange: sim } = await start();
    await waitFor(() => client!.status().state === 'connected');
    const shutdownLater = (connectionId: number) =>
      sim.faults.serverShutdown({ connectionId, closeAfterMs: 5 * 60_000 });
    const first = sim.connections()[0]!.id;
    shutdownLater(first);
    await waitFor(() => sim.connections().length === 2);
    const second = sim.connections().find((c) => c.id !== first)!.id;
    shutdownLater(second); // the exchange is going away for the replacement too
    // Neither connection is left for the exchange to cut: each is replaced, then closed by the client.
    await waitFor(() => client!.status().replacements === 2);
    await waitFor(() => sim.connections().length === 1);
    expect(sim.connections()[0]!.id).toBeGreaterThan(second);
    expect(client!.status()).toMatchObject({ reconnects: 0, connections: 1, state: 'connected' });
  });

  it.each([
    ['goes unanswered', 'lost', 'no reply to SUBSCRIBE'],
    ['is refused', 'refused', 'SUBSCRIBE refused: code 2'],
  ] as const)(
    'gives up a connection whose SUBSCRIBE %s, and subscribes every stream on the next',
    async (_case, how, error) => {
      exchange = await createSimulatedExchange({ symbols: SYMBOLS, includeUniverseExtras: false });
      exchange.faults.controlMessages(how, 1);
      const resumes: string[][] = [];
      client = createStreamClient({
        baseUrl: exchange.wsUrl,
        logger: pino({ level: 'silent' }),
        now: Date.now,
        onEvent: () => undefined,
        onResume: (symbols) => resumes.push(symbols),
        urlStreams: 1,
        subscribeBatchStreams: 2,
        replyTimeoutMs: 300,
        backoffBaseMs: 20,
      });
      client.setSymbols(SYMBOLS);
      client.start();
      await waitFor(() => client!.status().state === 'connected');
      expect(client.status()).toMatchObject({ reconnects: 1, connections: 1 });
      expect(client.status().lastError).toContain(error);
      const [connection] = exchange.connections();
      expect(connection?.streams).toHaveLength(SYMBOLS.length + 1);
      // The gap since the start is repaired for every symbol once the connection is whole.
      expect(resumes.map((symbols) => symbols.sort())).toEqual([[...SYMBOLS].sort()]);
    },
  );

  it('gives up a live connection whose UNSUBSCRIBE goes unanswered, and opens one with only the streams wanted', async () => {
    const { exchange: sim } = await start({
      urlStreams: 100,
      subscribeBatchStreams: 200,
      replyTimeoutMs: 300,
      backoffBaseMs: 20,
    });
    await waitFor(() => client!.status().state === 'connected');
    sim.faults.controlMessages('lost', 1);
    client!.setSymbols(SYMBOLS.slice(0, 2));
    await waitFor(() => client!.status().reconnects === 1 && client!.status().state === 'connected');
    expect(client!.status().lastError).toContain('no reply to UNSUBSCRIBE');
    await waitFor(() => sim.connections().length === 1);
    expect([...sim.connections()[0]!.streams].sort()).toEqual([
      '!miniTicker@arr',
      'btcusdt@kline_1m',
      'ethusdt@kline_1m',
    ]);
  });

  it('unsubscribes a symbol live', async () => {
    const { exchange: sim } = await start({ urlStreams: 100, subscribeBatchStreams: 200 });
    await waitFor(() => client!.status().state === 'connected');
    client!.setSymbols(SYMBOLS.slice(0, 2));
    await waitFor(() => sim.connections()[0]?.streams.length === 3);
    expect([...sim.connections()[0]!.streams].sort()).toEqual([
      '!miniTicker@arr',
      'btcusdt@kline_1m',
      'ethusdt@kline_1m',
    ]);
  });

  it('leaves unsubscribed the symbols removed while its connection was still opening', async () => {
    const { exchange: sim } = await start();
    // The socket is still connecting (its upgrade needs a network round trip).
    client!.setSymbols(SYMBOLS.slice(0, 2));
    await waitFor(() => client!.status().state === 'connected'); // every control frame answered
    expect([...sim.connections()[0]!.streams].sort()).toEqual([
      '!miniTicker@arr',
      'btcusdt@kline_1m',
      'ethusdt@kline_1m',
    ]);
  });

  it('unsubscribes a URL stream removed while its connection was still opening', async () => {
    const { exchange: sim } = await start({ urlStreams: 3 });
    client!.setSymbols(['ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT']); // btcusdt was in the URL
    await waitFor(() => client!.status().state === 'connected'); // every control frame answered
    expect([...sim.connections()[0]!.streams].sort()).toEqual([
      '!miniTicker@arr',
      'bnbusdt@kline_1m',
      'ethusdt@kline_1m',
      'solusdt@kline_1m',
      'xrpusdt@kline_1m',
    ]);
  });
});

/** A miniTicker frame for BTCUSDT, as `!miniTicker@arr` sends it. */
const tickerFrame = (eventTime: number): string =>
  JSON.stringify({
    stream: '!miniTicker@arr',
    data: [
      { e: '24hrMiniTicker', E: eventTime, s: 'BTCUSDT', c: '1', o: '1', h: '1', l: '1', v: '1', q: '1' },
    ],
  });

/**
 * The stream client against a server whose every upgrade the test scripts: the orders of events the
 * simulated exchange cannot force (a close landing while a replacement is still opening, frames of
 * URL streams flowing before the SUBSCRIBE reply).
 */
describe('stream client against a scripted server', () => {
  let server: Server | undefined;
  let client: StreamClient | undefined;
  afterEach(async () => {
    client?.stop();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  type Upgrade = (
    attempt: number,
    request: IncomingMessage,
    socket: Socket,
    accept: () => Promise<WebSocket>,
  ) => void;

  /** Starts the server and a client of BTCUSDT whose kline stream goes by SUBSCRIBE. */
  async function start(script: Upgrade, options: Partial<StreamClientOptions> = {}) {
    const wss = new WebSocketServer({ noServer: true });
    let attempts = 0;
    server = createServer();
    server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
      const accept = () =>
        new Promise<WebSocket>((resolve) => wss.handleUpgrade(request, socket, head, resolve));
      script(++attempts, request, socket, accept);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const events: { event: MarketEvent; receivedAt: number }[] = [];
    const resumes: (number | undefined)[] = [];
    client = createStreamClient({
      baseUrl: `ws://127.0.0.1:${port}`,
      logger: pino({ level: 'silent' }),
      now: Date.now,
      onEvent: (event, receivedAt) => events.push({ event, receivedAt }),
      onResume: (_symbols, since) => resumes.push(since),
      urlStreams: 1,
      outgoingSpacingMs: 0,
      backoffBaseMs: 10,
      ...options,
    });
    client.setSymbols(['BTCUSDT']);
    client.start();
    return { events, resumes, attempts: () => attempts };
  }

  /** Answers every SUBSCRIBE, after `delayMs`. */
  const answerSubscribes = (ws: WebSocket, delayMs = 0): void => {
    ws.on('message', (data: Buffer) => {
      const { id } = JSON.parse(data.toString()) as { id: number };
      setTimeout(() => ws.send(JSON.stringify({ result: null, id })), delayMs);
    });
  };

  it('counts a miniTicker array with some bad elements as malformed and still delivers the good ones', async () => {
    const [good] = (JSON.parse(tickerFrame(1)) as { data: unknown[] }).data;
    const bad = { e: '24hrMiniTicker', E: 1, s: 'ETHUSDT', c: 'NaN', o: '1', h: '1', l: '1', v: '1', q: '1' };
    const { events } = await start((_attempt, _request, _socket, accept) => {
      void accept().then((ws) => {
        answerSubscribes(ws);
        ws.send(JSON.stringify({ stream: '!miniTicker@arr', data: [good, bad] }));
      });
    });
    client!.setSymbols(['BTCUSDT', 'ETHUSDT']); // only tracked symbols' elements are read
    await waitFor(() => events.length === 1);
    expect(events[0]!.event).toMatchObject({ type: 'miniTickers', tickers: [{ symbol: 'BTCUSDT' }] });
    expect(client!.status().malformed).toBe(1);
  });

  it('gives up the connection carrying !miniTicker@arr when only pings come, and reconnects with a resume for repair', async () => {
    // A feed stalled behind a live socket: Binance's pings still come, the market's data does not.
    const pings: NodeJS.Timeout[] = [];
    const { resumes, attempts } = await start(
      (attempt, _request, _socket, accept) => {
        void accept().then((ws) => {
          answerSubscribes(ws);
          ws.send(tickerFrame(attempt));
          if (attempt === 1) pings.push(setInterval(() => ws.ping(Buffer.from('still here')), 50));
        });
      },
      { deadAfterMs: 500 },
    );
    try {
      await waitFor(() => attempts() === 2 && resumes.length === 1);
      expect(client!.status().reconnects).toBe(1);
    } finally {
      for (const ping of pings) clearInterval(ping);
    }
  });

  it('still hands up a frame that arrives during the close handshake, for the final flush to store', async () => {
    let server: WebSocket | undefined;
    const { events } = await start((_attempt, _request, _socket, accept) => {
      void accept().then((ws) => {
        server = ws;
        answerSubscribes(ws);
      });
    });
    await waitFor(() => client!.status().state === 'connected');
    // Written to the wire before the client's close frame: it arrives once the client has stopped.
    server!.send(tickerFrame(1));
    client!.stop();
    await new Promise((resolve) => server!.once('close', resolve));
    expect(events).toHaveLength(1);
  });

  it('reconnects when its replacement fails after the connection being replaced has closed', async () => {
    let first: WebSocket | undefined;
    const { attempts } = await start(
      (attempt, _request, socket, accept) => {
        if (attempt === 1) {
          void accept().then((ws) => {
            first = ws;
            answerSubscribes(ws);
            ws.send(JSON.stringify({ e: 'serverShutdown', E: Date.now() }));
          });
        } else if (attempt === 2) {
          // The replacement: the old connection closes first, then this one is refused.
          first!.once('close', () =>
            setTimeout(() => socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n'), 100),
          );
          first!.close(1001, 'going away');
        } else {
          void accept().then((ws) => answerSubscribes(ws));
        }
      },
      { backoffBaseMs: 500, random: () => 0.99 },
    ); // the refusal lands well before any retry
    await waitFor(() => attempts() >= 3 && client!.status().state === 'connected');
    expect(client!.status()).toMatchObject({ connections: 1 });
  });

  it("resumes from the last frame before the loss, not from the new connection's first frames", async () => {
    const { events, resumes } = await start((attempt, _request, _socket, accept) => {
      void accept().then((ws) => {
        if (attempt === 1) {
          answerSubscribes(ws);
          // Once subscribed: one frame, then the connection is lost without a close frame.
          ws.once('message', () =>
            setTimeout(() => {
              ws.send(tickerFrame(1));
              setTimeout(() => ws.terminate(), 50);
            }, 20),
          );
        } else {
          // The URL stream flows at once; the SUBSCRIBE reply comes 300 ms later.
          answerSubscribes(ws, 300);
          for (const delay of [0, 100, 200]) setTimeout(() => ws.send(tickerFrame(2)), delay);
        }
      });
    });
    await waitFor(() => resumes.length === 1);
    const lastBeforeLoss = events.filter(({ event }) => event.type === 'miniTickers')[0]!.receivedAt;
    expect(events.length).toBeGreaterThan(1); // the new connection's frames came before its resume
    expect(resumes).toEqual([lastBeforeLoss]);
  });

  it('backs off exponentially while connections fail before any frame, and starts over after a good one', async () => {
    const opened: number[] = [];
    await start(
      (attempt, _request, socket, accept) => {
        opened.push(Date.now());
        if (attempt <= 4) {
          socket.destroy(); // refused before any frame: the backoff grows
          return;
        }
        void accept().then((ws) => {
          answerSubscribes(ws);
          ws.send(tickerFrame(1)); // a good message: the next reconnect starts from the base again
          setTimeout(() => ws.close(1001), 20);
        });
      },
      { backoffBaseMs: 100, random: () => 0.99 },
    );
    await waitFor(() => opened.length >= 6);
    const gaps = opened.slice(1).map((at, i) => at - opened[i]!);
    // Caps 200, 400, 800, 1600 ms (just under each, with this jitter), then back to 200.
    expect(gaps[1]!).toBeGreaterThan(350);
    expect(gaps[2]!).toBeGreaterThan(750);
    expect(gaps[3]!).toBeGreaterThan(1500);
    expect(gaps[4]!).toBeLessThan(600);
  });

  it('waits at least the base delay before reconnecting, however the jitter falls', async () => {
    const opened: number[] = [];
    await start(
      (_attempt, _request, _socket, accept) => {
        opened.push(Date.now());
        // Accepted, one frame, closed: the pattern that must not reconnect in a tight loop.
        void accept().then((ws) => {
          answerSubscribes(ws);
          ws.send(tickerFrame(1));
          setTimeout(() => ws.close(1001), 10);
        });
      },
      { backoffBaseMs: 200, random: () => 0 },
    );
    await waitFor(() => opened.length >= 4);
    const gaps = opened.slice(1).map((at, i) => at - opened[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(200);
  });
});
