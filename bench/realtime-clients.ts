/**
 * Child process of bench/realtime.ts: many Socket.IO clients in one process, kept light so that
 * the load generator does not starve the server it measures on a small machine. Each client is a
 * TCP socket that does the WebSocket upgrade and framing itself (ws-wire.ts) and speaks the
 * Socket.IO wire protocol (Engine.IO v4 packets: `0` open, `2` ping answered by `3`, `4` message;
 * Socket.IO v5 inside: `0` connect, `2` event, `3` ack), so a `price_update` costs a frame header,
 * a prefix check and the `timestamp` read out of its text: no WebSocket library's per-message
 * events, no JSON parse. With `ws` as the client the clients took about half again as much CPU as
 * the server they measured, which showed as latency on a 2-core machine. The integration tests use
 * the real socket.io-client; this only counts.
 *
 * Each client subscribes to its symbols (with acks) and, while a measuring window is open, counts
 * every `price_update` and samples its latency: Date.now() at receipt minus the update's
 * `timestamp` (the server's Date.now() at the frame's arrival: same machine, same clock). Talks to
 * the parent over IPC only.
 */
import { connect, type Socket } from 'node:net';
import type { ClientsToParent, ParentToClients } from './realtime.js';
import { acceptKey, createFrameReader, newKey, textFrame } from './ws-wire.js';

/** Clients connecting at once: more and the server's accept queue makes handshakes time out. */
const CONNECT_CONCURRENCY = 200;
/** A client that has not opened, connected and had every subscribe acknowledged by then fails. */
const SETUP_TIMEOUT_MS = 30_000;

const PRICE_UPDATE_PREFIX = '42["price_update",';
const TIMESTAMP_KEY = '"timestamp":';

const send = (message: ClientsToParent): void => void process.send?.(message);

let sockets: Socket[] = [];
/** Bumped by each `close`: a connecting run that was closed stops and keeps nothing. */
let generation = 0;
let measuring = false;
let received = 0;
let disconnects = 0;
let reservoirCap = 0;
let reservoir: number[] = [];
let window: { cpu: NodeJS.CpuUsage; at: number } | undefined;

/** Uniform reservoir sampling (algorithm R) of every receipt's latency while measuring. */
function onUpdate(text: string): void {
  if (!measuring) return;
  const key = text.indexOf(TIMESTAMP_KEY, PRICE_UPDATE_PREFIX.length);
  if (key < 0) return;
  const ms = Date.now() - Number.parseInt(text.slice(key + TIMESTAMP_KEY.length, key + 40), 10);
  received++;
  if (reservoir.length < reservoirCap) reservoir.push(ms);
  else {
    const slot = Math.floor(Math.random() * received);
    if (slot < reservoirCap) reservoir[slot] = ms;
  }
}

/** Separates the Engine.IO v4 packets of one long-polling response. */
const POLLING_SEPARATOR = '\x1e';

/**
 * Opens an Engine.IO session on HTTP long-polling and connects Socket.IO's default namespace there,
 * as socket.io-client does by default before it upgrades; resolves with the session id.
 */
async function openPolling(base: URL): Promise<string> {
  const url = new URL('/socket.io/?EIO=4&transport=polling', base);
  const open = await (await fetch(url)).text();
  if (!open.startsWith('0')) throw new Error(`no Engine.IO open: ${open.slice(0, 80)}`);
  const { sid } = JSON.parse(open.slice(1)) as { sid: string };
  url.searchParams.set('sid', sid);
  const posted = await fetch(url, { method: 'POST', body: '40' });
  const answer = await posted.text(); // `ok`, read so the connection is free again
  if (!posted.ok) throw new Error(`connect refused: HTTP ${posted.status} ${answer}`);
  const packets = (await (await fetch(url)).text()).split(POLLING_SEPARATOR);
  if (!packets.some((packet) => packet.startsWith('40')))
    throw new Error(`no Socket.IO connect: ${packets[0]}`);
  return sid;
}

/**
 * Opens one client and resolves once every subscription is acknowledged with success. With
 * `upgrading`, `url` names a session already connected on polling (openPolling), which this
 * upgrades: probe (`2probe`, answered `3probe`), then `5`, and the subscriptions go over WebSocket.
 */
function openClient(url: URL, symbols: readonly string[], upgrading: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    socket.setNoDelay(true);
    const key = newKey();
    let handshake: string | undefined = '';
    let acked = 0;
    let ready = false;
    const timer = setTimeout(() => fail(new Error('setup timed out')), SETUP_TIMEOUT_MS);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const sendText = (text: string) => socket.write(textFrame(text, true));
    // Ack ids 0..n-1.
    const subscribe = () =>
      symbols.forEach((symbol, id) => sendText(`42${id}${JSON.stringify(['subscribe', { symbol }])}`));
    const onText = (text: string): void => {
      if (text.startsWith(PRICE_UPDATE_PREFIX)) return onUpdate(text);
      switch (text[0]) {
        case '0': // Engine.IO open: connect to the default namespace
          sendText('40');
          return;
        case '2': // Engine.IO ping
          sendText('3');
          return;
        case '3': // the answer to the upgrade's probe: complete the upgrade and subscribe
          if (text === '3probe' && upgrading) {
            sendText('5');
            subscribe();
          }
          return;
        case '4':
          if (text[1] === '0') {
            subscribe(); // Socket.IO connect accepted
          } else if (text[1] === '3' && !ready) {
            if (!text.includes('"success":true')) return fail(new Error(`subscribe refused: ${text}`));
            if (++acked === symbols.length) {
              ready = true;
              clearTimeout(timer);
              resolve(socket);
            }
          } else if (text[1] === '4') fail(new Error(`connect refused: ${text}`));
          return;
      }
    };
    const read = createFrameReader({ text: onText, close: () => socket.end() });
    const onData = (chunk: Buffer): void => {
      if (handshake === undefined) return read(chunk);
      handshake += chunk.toString('latin1');
      const end = handshake.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!handshake.startsWith('HTTP/1.1 101') || !handshake.includes(acceptKey(key))) {
        return fail(new Error(`upgrade refused: ${handshake.slice(0, handshake.indexOf('\r\n'))}`));
      }
      const frames = Buffer.from(handshake.slice(end + 4), 'latin1');
      handshake = undefined;
      if (upgrading) sendText('2probe');
      if (frames.length > 0) read(frames);
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        onData(chunk);
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.on('error', (error) => {
      if (!ready) fail(error);
    });
    socket.on('close', () => {
      if (ready) disconnects++;
      else fail(new Error('closed during setup'));
    });
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

async function connectAll(message: Extract<ParentToClients, { type: 'connect' }>): Promise<void> {
  const started = performance.now();
  const { first, count, perClient, symbols, upgrade } = message;
  const socketUrl = new URL('/socket.io/?EIO=4&transport=websocket', message.url);
  /** The WebSocket address of a new client: with `upgrade`, of a session opened on polling first. */
  const clientUrl = async (): Promise<URL> => {
    if (!upgrade) return socketUrl;
    const url = new URL(socketUrl);
    url.searchParams.set('sid', await openPolling(url));
    return url;
  };
  reservoirCap = message.reservoir;
  let failed = 0;
  let firstError: string | undefined;
  let nextIndex = first;
  const end = first + count;
  const run = generation;
  // A fixed number of connections in flight, so setup never floods the server's accept queue.
  const worker = async (): Promise<void> => {
    while (nextIndex < end && generation === run) {
      const index = nextIndex++;
      const mine = Array.from(
        { length: perClient },
        (_, j) => symbols[(index * perClient + j) % symbols.length]!,
      );
      try {
        const socket = await openClient(await clientUrl(), mine, upgrade);
        if (generation === run) sockets.push(socket);
        else socket.destroy(); // the parent gave up on this run and closed it
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, worker));
  // A run closed meanwhile has had its answer (a timeout): a late one would answer the next run.
  if (generation !== run) return;
  send({
    type: 'connected',
    connected: sockets.length,
    failed,
    firstError,
    ms: performance.now() - started,
  });
}

process.on('message', (message: ParentToClients) => {
  switch (message.type) {
    case 'connect':
      void connectAll(message);
      return;
    case 'begin':
      received = 0;
      disconnects = 0;
      reservoir = [];
      window = { cpu: process.cpuUsage(), at: performance.now() };
      measuring = true;
      send({ type: 'begun' });
      return;
    case 'end': {
      measuring = false;
      if (!window) throw new Error('end without begin');
      const cpu = process.cpuUsage(window.cpu);
      send({
        type: 'report',
        received,
        samples: reservoir,
        disconnects,
        cpuMs: (cpu.user + cpu.system) / 1000,
        wallMs: performance.now() - window.at,
        rss: process.memoryUsage.rss(),
      });
      return;
    }
    case 'close':
      generation++;
      for (const socket of sockets) socket.end(textFrame('41', true)); // Socket.IO disconnect
      sockets = [];
      send({ type: 'closed' });
      return;
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
