/**
 * Child process of bench/realtime.ts: one server under test, alone in its process so its CPU time
 * and RSS are its own. `argv[2]` picks it: `app` is the real app (buildApp with the Socket.IO
 * gateway) on a SQLite file, fed through the real decodeFrame → ingest → live state → broadcaster
 * path by a synthetic `!miniTicker@arr` frame of every symbol each second; `bare` is a plain
 * socket.io server that joins the same rooms and emits the same `price_update` payloads itself;
 * `bare-volatile` the same emitted `volatile`; `floor` writes the same bytes with no WebSocket library
 * and no Socket.IO, one write per client per second (startFloor).
 * Either way the update's `timestamp` is the server's Date.now() when the frame arrives, so a client
 * on the same machine can compute arrival → receipt. Talks to the parent over IPC only.
 */
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { Server } from 'socket.io';
import { decodeFrame, MINI_TICKER_ARRAY_STREAM } from '../src/binance/decode.js';
import { combinedFrame, formatUnits8 } from '../src/binance/simulator/wire.js';
import { formatDecimal, parseDecimal, subtractDecimal } from '../src/domain/decimal.js';
import type { WireMiniTicker } from '../src/binance/wire.js';
import type { PriceUpdate } from '../src/realtime/events.js';
import type { ParentToServer, ServerToParent } from './realtime.js';
import { buildLiveApp } from './live-app.js';
import { acceptKey, createFrameReader, textFrame } from './ws-wire.js';

/** The service's defaults (SPEC section 3): one update per symbol per second, an hour of history. */
const BROADCAST_INTERVAL_MS = 1000;
const HISTORY_ON_SUBSCRIBE_MS = 60 * 60 * 1000;
/** Frames leave this far into each wall-clock second, so consecutive frames never share a second. */
const TICK_OFFSET_MS = 500;
const RSS_SAMPLE_MS = 100;

const mode = process.argv[2];
const dir = process.argv[3];
const symbols = (process.argv[4] ?? '').split(',');
if (!['app', 'bare', 'bare-volatile', 'floor'].includes(mode ?? '') || !dir || symbols.length === 0) {
  throw new Error('usage: realtime-server.ts app|bare|bare-volatile|floor <dir> <symbols,...>');
}

const send = (message: ServerToParent): void => void process.send?.(message);

/** A price walk per symbol in 1e-8 units, with rolling 24 h figures, as the exchange's tickers. */
function createBoard(names: readonly string[]) {
  let seed = 99;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
  const price = names.map(() => BigInt(Math.round(10 ** (next() * 5) * 1e6)) * 100n);
  const open = [...price];
  const high = [...price];
  const low = [...price];
  const volume = names.map(() => 1_000_000_000_000n);
  const tick = price.map((p) => (p / 10_000n > 0n ? p / 10_000n : 1n));
  return {
    walk(): void {
      for (let i = 0; i < names.length; i++) {
        const moved = price[i]! + BigInt(Math.round((next() - 0.5) * 10)) * tick[i]!;
        price[i] = moved > tick[i]! ? moved : tick[i]!;
        if (price[i]! > high[i]!) high[i] = price[i]!;
        if (price[i]! < low[i]!) low[i] = price[i]!;
        volume[i]! += 100_000_000n;
      }
    },
    tickers(eventTime: number): WireMiniTicker[] {
      return names.map((s, i) => ({
        e: '24hrMiniTicker',
        E: eventTime,
        s,
        c: formatUnits8(price[i]!),
        o: formatUnits8(open[i]!),
        h: formatUnits8(high[i]!),
        l: formatUnits8(low[i]!),
        v: formatUnits8(volume[i]!),
        q: formatUnits8((volume[i]! * price[i]!) / 100_000_000n),
      }));
    },
  };
}

/**
 * The `price_update` the app makes of a ticker (market/prices.ts, realtime/handlers.ts priceUpdate),
 * computed the same exact way so that the servers that skip the app send the same bytes.
 */
function priceUpdateOf(ticker: WireMiniTicker): PriceUpdate {
  const change = formatDecimal(subtractDecimal(parseDecimal(ticker.c), parseDecimal(ticker.o)));
  const open = Number.parseFloat(ticker.o);
  const percent = open === 0 ? 0 : (Number.parseFloat(change) / open) * 100;
  return {
    symbol: ticker.s,
    price: Number.parseFloat(ticker.c),
    timestamp: ticker.E,
    change24h: Number.parseFloat(change),
    changePercent24h: Math.round(percent * 1000) / 1000,
    high24h: Number.parseFloat(ticker.h),
    low24h: Number.parseFloat(ticker.l),
    volume24h: Number.parseFloat(ticker.v),
  };
}

/** Calls `run` at TICK_OFFSET_MS into every wall-clock second until the returned stop is called. */
function everySecond(run: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    const now = Date.now();
    const due = Math.floor(now / 1000) * 1000 + TICK_OFFSET_MS;
    timer = setTimeout(
      () => {
        run();
        schedule();
      },
      due > now ? due - now : due + 1000 - now,
    );
  };
  schedule();
  return () => clearTimeout(timer);
}

interface Running {
  readonly url: string;
  stop(): Promise<void>;
}

async function startApp(): Promise<Running> {
  const { app, ingest, buffer } = await buildLiveApp({
    dbPath: join(dir!, 'market.db'),
    symbols,
    realtime: {
      broadcastIntervalMs: BROADCAST_INTERVAL_MS,
      historyOnSubscribeMs: HISTORY_ON_SUBSCRIBE_MS,
    },
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  buffer.start();
  const board = createBoard(symbols);
  const feed = () => {
    board.walk();
    // As the stream client: the frame's arrival time is its event time, then decode and ingest.
    const arrival = Date.now();
    const frame = combinedFrame(MINI_TICKER_ARRAY_STREAM, JSON.stringify(board.tickers(arrival)));
    const decoded = decodeFrame(frame);
    if (!decoded.ok) throw new Error(`bench frame rejected: ${decoded.reason}`);
    ingest.handle(decoded.event, arrival);
  };
  feed();
  const stopFeed = everySecond(feed);
  return {
    url,
    async stop() {
      stopFeed();
      await buffer.stop();
      await app.close(); // closes the store too (build-app's onClose)
    },
  };
}

/** Every update to every subscriber; with `volatile`, socket.io drops those a busy socket cannot take. */
async function startBare(volatile: boolean): Promise<Running> {
  const http = createServer();
  const io = new Server(http, { path: '/socket.io', serveClient: false });
  io.on('connection', (socket) => {
    socket.on('subscribe', (payload: { symbol?: unknown }, ack?: (response: unknown) => void) => {
      const symbol = typeof payload?.symbol === 'string' ? payload.symbol : '';
      void socket.join(`price:${symbol}`);
      ack?.({ success: true, data: { symbol } });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const board = createBoard(symbols);
  const feed = () => {
    board.walk();
    const arrival = Date.now();
    for (const ticker of board.tickers(arrival)) {
      const room = io.to(`price:${ticker.s}`);
      (volatile ? room.volatile : room).emit('price_update', priceUpdateOf(ticker));
    }
  };
  const stopFeed = everySecond(feed);
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      stopFeed();
      io.disconnectSockets(true);
      await io.close();
    },
  };
}

/**
 * The machine's floor: no WebSocket library and no Socket.IO, only what any server must do. It does
 * the upgrade and framing itself (ws-wire.ts), answers just enough of Engine.IO and Socket.IO for
 * the bench's clients to connect and subscribe, and on each frame encodes every symbol's update as
 * one WebSocket frame and writes each client its frames in one `write`: the same bytes the app
 * sends, with one system call per client per second.
 */
async function startFloor(): Promise<Running> {
  const http = createServer();
  /** Each client's subscribed symbols. */
  const clients = new Map<Socket, string[]>();
  let ids = 0;
  http.on('upgrade', (request, socket: Socket, head: Buffer) => {
    const key = request.headers['sec-websocket-key'];
    if (typeof key !== 'string') return void socket.destroy();
    socket.setNoDelay(true);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
    );
    const sid = String(ids++);
    const sendText = (text: string): void => void socket.write(textFrame(text, false));
    sendText(
      `0${JSON.stringify({ sid, upgrades: [], pingInterval: 25_000, pingTimeout: 20_000, maxPayload: 1e6 })}`,
    );
    const mine: string[] = [];
    clients.set(socket, mine);
    const read = createFrameReader({
      text: (text) => {
        if (text === '40') return sendText(`40${JSON.stringify({ sid })}`);
        const event = /^42(\d+)\["subscribe",\{"symbol":"([A-Z0-9]+)"\}\]$/.exec(text);
        if (!event) return;
        const [, id, symbol] = event;
        mine.push(symbol!);
        sendText(`43${id}${JSON.stringify([{ success: true, data: { symbol } }])}`);
      },
      close: () => socket.end(),
    });
    const onData = (chunk: Buffer): void => {
      try {
        read(chunk);
      } catch {
        socket.destroy();
      }
    };
    if (head.length > 0) onData(head);
    socket.on('data', onData);
    // A client that closes (its FIN) is gone: the HTTP server would keep the socket half open.
    socket.on('end', () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clients.delete(socket));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const board = createBoard(symbols);
  const feed = () => {
    board.walk();
    const arrival = Date.now();
    const frames = new Map<string, Buffer>();
    for (const ticker of board.tickers(arrival)) {
      const packet = `42${JSON.stringify(['price_update', priceUpdateOf(ticker)])}`;
      frames.set(ticker.s, textFrame(packet, false));
    }
    for (const [socket, mine] of clients)
      socket.write(Buffer.concat(mine.map((symbol) => frames.get(symbol)!)));
  };
  const stopFeed = everySecond(feed);
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      stopFeed();
      for (const socket of clients.keys()) socket.destroy();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

let maxRss = process.memoryUsage.rss();
const rssTimer = setInterval(() => {
  maxRss = Math.max(maxRss, process.memoryUsage.rss());
}, RSS_SAMPLE_MS);

const running =
  mode === 'app'
    ? await startApp()
    : mode === 'floor'
      ? await startFloor()
      : await startBare(mode === 'bare-volatile');
let window: { cpu: NodeJS.CpuUsage; at: number } | undefined;

process.on('message', (message: ParentToServer) => {
  switch (message.type) {
    case 'begin':
      window = { cpu: process.cpuUsage(), at: performance.now() };
      send({ type: 'begun' });
      return;
    case 'end': {
      if (!window) throw new Error('end without begin');
      const cpu = process.cpuUsage(window.cpu);
      maxRss = Math.max(maxRss, process.memoryUsage.rss());
      send({
        type: 'report',
        cpuMs: (cpu.user + cpu.system) / 1000,
        systemCpuMs: cpu.system / 1000,
        wallMs: performance.now() - window.at,
        maxRss,
      });
      return;
    }
    case 'stop':
      clearInterval(rssTimer);
      running.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
      return;
  }
});
// The parent gone (crashed or killed): nothing left to serve.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', url: running.url });
