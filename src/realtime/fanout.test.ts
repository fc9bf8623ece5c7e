import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { PriceUpdate } from './events.js';
import { createLocalFanout, type FanoutClient } from './fanout.js';

const update = (symbol: string, price: number): PriceUpdate => ({
  symbol,
  price,
  timestamp: 1_767_229_200_000,
  change24h: 1.5,
  changePercent24h: 0.015,
  high24h: price + 1,
  low24h: price - 1,
  volume24h: 1234.5,
});
/** The Socket.IO packet of a `price_update` event in the default namespace. */
const packetOf = (sent: PriceUpdate): string => `2${JSON.stringify(['price_update', sent])}`;

interface Peer {
  /** The server side's TCP socket, as the gateway knows it. */
  readonly tcp: Socket;
  /** What the server wrote to `tcp` with `write`. */
  readonly writes: Buffer[];
  /** The text messages a `ws` client read, one per WebSocket frame. */
  readonly messages: string[];
}

let server: Server | undefined;
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

/** A WebSocket connection from a `ws` client to a server that hands its TCP socket over. */
async function connect(): Promise<Peer> {
  const wss = new WebSocketServer({ noServer: true });
  const accepted: Socket[] = [];
  if (!server) {
    server = createServer();
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  }
  server.removeAllListeners('upgrade');
  server.on('upgrade', (request, socket: Socket, head: Buffer) => {
    wss.handleUpgrade(request, socket, head, () => accepted.push(socket));
  });
  const { port } = server.address() as AddressInfo;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  clients.push(client);
  const messages: string[] = [];
  client.on('message', (data: Buffer) => messages.push(data.toString()));
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const tcp = accepted[0]!;
  const writes: Buffer[] = [];
  const write = tcp.write.bind(tcp);
  // The fan-out calls `write(buffer, callback)`.
  tcp.write = ((chunk: Buffer, callback?: (error?: Error | null) => void) => {
    writes.push(chunk);
    return write(chunk, callback);
  }) as typeof tcp.write;
  return { tcp, writes, messages };
}

function directClient(peer: Peer): FanoutClient & { sent: string[] } {
  const sent: string[] = [];
  return { sent, slow: () => false, directSocket: () => peer.tcp, sendPacket: (p) => sent.push(p) };
}

/** A fan-out over the given rooms (symbol → client ids) and clients (id → client). */
function fanoutOver(rooms: Record<string, string[]>, byId: Record<string, FanoutClient>) {
  return createLocalFanout({
    members: (symbol) => rooms[symbol],
    client: (id) => byId[id],
  });
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; !check(); i++) {
    if (i > 200) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('local price fan-out', () => {
  it("writes a client's updates of one turn in one write, as frames a WebSocket client reads as Socket.IO price_update packets", async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()];
    const byId = { a: directClient(a), b: directClient(b), c: directClient(c) };
    const fanout = fanoutOver({ BTCUSDT: ['a'], ETHUSDT: ['a', 'b', 'c'] }, byId);
    const btc = update('BTCUSDT', 97_000.5);
    const eth = update('ETHUSDT', 3_400.25);
    fanout.send(btc);
    fanout.send(eth);
    expect(a.writes).toHaveLength(0); // they leave on the next turn, together
    await until(
      'every client read its updates',
      () => [a.messages.length, b.messages.length, c.messages.length].join() === '2,1,1',
    );
    // Engine.IO's `message` packet (`4`) holding each event, one WebSocket frame each.
    expect(a.messages).toEqual([`4${packetOf(btc)}`, `4${packetOf(eth)}`]);
    expect(b.messages).toEqual([`4${packetOf(eth)}`]);
    expect([a.writes.length, b.writes.length, c.writes.length]).toEqual([1, 1, 1]);
    // ETHUSDT's frame was encoded once: b and c were written the very same buffer.
    expect(c.writes[0]).toBe(b.writes[0]);
  });

  it('sends the packets through Engine.IO, in order, to a client that cannot be written to directly', async () => {
    const queued = { ...directClient(await connect()), directSocket: () => undefined };
    const fanout = fanoutOver({ BTCUSDT: ['q'], ETHUSDT: ['q'] }, { q: queued });
    const btc = update('BTCUSDT', 1);
    const eth = update('ETHUSDT', 2);
    fanout.send(btc);
    fanout.send(eth);
    await nextTurn();
    expect(queued.sent).toEqual([packetOf(btc), packetOf(eth)]);
  });

  it('skips a client that skips updates, and still serves the others', async () => {
    const [slow, fast] = [await connect(), await connect()];
    const slowClient = { ...directClient(slow), slow: () => true };
    const fanout = fanoutOver({ BTCUSDT: ['s', 'f'] }, { s: slowClient, f: directClient(fast) });
    fanout.send(update('BTCUSDT', 1));
    await until('the fast client read its update', () => fast.messages.length === 1);
    expect(slow.writes).toHaveLength(0);
    expect(slowClient.sent).toHaveLength(0);
  });

  /**
   * One client subscribed to BTCUSDT and ETHUSDT whose TCP socket is corked (what it is written
   * waits in it, as behind a full kernel buffer), after the fan-out wrote it `first` (BTCUSDT).
   */
  async function writePending() {
    const peer = await connect();
    const client = directClient(peer);
    const fanout = fanoutOver({ BTCUSDT: ['p'], ETHUSDT: ['p'] }, { p: client });
    const first = update('BTCUSDT', 1);
    peer.tcp.cork();
    fanout.send(first);
    await nextTurn();
    expect(peer.writes).toHaveLength(1);
    return { peer, client, fanout, first };
  }

  it('holds the newest update per symbol while a direct write has not left, and writes them together once it has', async () => {
    const { peer, fanout, first } = await writePending();
    const [superseded, eth, newest] = [update('BTCUSDT', 2), update('ETHUSDT', 3), update('BTCUSDT', 4)];
    fanout.send(superseded);
    fanout.send(eth);
    await nextTurn();
    fanout.send(newest);
    await nextTurn();
    expect(peer.writes).toHaveLength(1); // nothing more while the first write waits
    peer.tcp.uncork();
    await until('the client read three updates', () => peer.messages.length === 3);
    expect(peer.messages).toEqual([first, newest, eth].map((sent) => `4${packetOf(sent)}`));
    expect(peer.writes).toHaveLength(2);
  });

  it('drops a held update of a symbol the client leaves', async () => {
    const { peer, client, fanout, first } = await writePending();
    fanout.send(update('ETHUSDT', 2));
    await nextTurn();
    fanout.forget(client, 'ETHUSDT'); // its unsubscribe, acknowledged now
    peer.tcp.uncork();
    await until('the client read the first update', () => peer.messages.length === 1);
    await nextTurn();
    expect(peer.messages).toEqual([`4${packetOf(first)}`]);
    expect(peer.writes).toHaveLength(1);
  });

  it("drops what is queued for a symbol a client leaves, and all of a disconnected client's", async () => {
    const [leaving, gone, staying] = [await connect(), await connect(), await connect()];
    const byId = { l: directClient(leaving), g: directClient(gone), s: directClient(staying) };
    const fanout = fanoutOver({ BTCUSDT: ['l', 'g', 's'], ETHUSDT: ['l', 'g', 's'] }, byId);
    const eth = update('ETHUSDT', 2);
    fanout.send(update('BTCUSDT', 1));
    fanout.send(eth);
    fanout.forget(byId.l, 'BTCUSDT'); // an unsubscribe acknowledged in the same turn
    fanout.forget(byId.g); // a disconnect
    await until('the staying client read both updates', () => staying.messages.length === 2);
    await until('the leaving client read its update', () => leaving.messages.length === 1);
    expect(leaving.messages).toEqual([`4${packetOf(eth)}`]);
    expect(gone.writes).toHaveLength(0);
  });

  it('writes nothing for a symbol nobody is subscribed to', async () => {
    const peer = await connect();
    const fanout = fanoutOver({ BTCUSDT: [] }, { p: directClient(peer) });
    fanout.send(update('BTCUSDT', 1));
    fanout.send(update('ETHUSDT', 1));
    await nextTurn();
    expect(peer.writes).toHaveLength(0);
  });
});
