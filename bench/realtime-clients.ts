/**
 * Child process of bench/realtime.ts: many socket.io clients in one process. Each connects over
 * WebSocket only, subscribes to its 10 symbols and, while a measuring window is open, counts every
 * `price_update` and samples its latency, Date.now() at receipt minus the update's `timestamp` (the
 * server's Date.now() at the frame's arrival: same machine, same clock). Talks to the parent over
 * IPC only.
 */
import { io as connect, type Socket } from 'socket.io-client';
import type { PriceUpdate } from '../src/realtime/events.js';
import type { ClientsToParent, ParentToClients } from './realtime.js';

/** Clients connecting at once: more and the server's accept queue makes handshakes time out. */
const CONNECT_CONCURRENCY = 200;
const CONNECT_TIMEOUT_MS = 20_000;
const ACK_TIMEOUT_MS = 20_000;

const send = (message: ClientsToParent): void => void process.send?.(message);

let sockets: Socket[] = [];
let measuring = false;
let received = 0;
let disconnects = 0;
let reservoirCap = 0;
let reservoir: number[] = [];
let window: { cpu: NodeJS.CpuUsage; at: number } | undefined;

/** Uniform reservoir sampling (algorithm R) of every receipt's latency while measuring. */
function onUpdate(update: PriceUpdate): void {
  if (!measuring) return;
  const ms = Date.now() - update.timestamp;
  received++;
  if (reservoir.length < reservoirCap) reservoir.push(ms);
  else {
    const slot = Math.floor(Math.random() * received);
    if (slot < reservoirCap) reservoir[slot] = ms;
  }
}

async function openClient(url: string, symbols: readonly string[]): Promise<Socket> {
  const socket = connect(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: CONNECT_TIMEOUT_MS,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  socket.on('price_update', onUpdate);
  socket.on('disconnect', () => void disconnects++);
  const acks = (await Promise.all(
    symbols.map((symbol) => socket.timeout(ACK_TIMEOUT_MS).emitWithAck('subscribe', { symbol })),
  )) as { success?: boolean }[];
  if (!acks.every((ack) => ack.success)) throw new Error('a subscribe failed');
  return socket;
}

async function connectAll(message: Extract<ParentToClients, { type: 'connect' }>): Promise<void> {
  const started = performance.now();
  const { url, first, count, perClient, symbols } = message;
  reservoirCap = message.reservoir;
  let failed = 0;
  let firstError: string | undefined;
  let nextIndex = first;
  const end = first + count;
  // A fixed number of connections in flight, so setup never floods the server's accept queue.
  const worker = async (): Promise<void> => {
    while (nextIndex < end) {
      const index = nextIndex++;
      const mine = Array.from(
        { length: perClient },
        (_, j) => symbols[(index * perClient + j) % symbols.length]!,
      );
      try {
        sockets.push(await openClient(url, mine));
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, worker));
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
      for (const socket of sockets) socket.close();
      sockets = [];
      send({ type: 'closed' });
      return;
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
