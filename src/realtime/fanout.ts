/**
 * Price updates to this instance's own clients, each client's updates of one event-loop turn
 * written to its TCP socket in one `write` of one buffer. Each update is encoded once as a whole
 * WebSocket frame: the Engine.IO `message` packet holding the Socket.IO `price_update` event, the
 * bytes Socket.IO would send. Through Socket.IO's broadcast each delivery is a packet object,
 * events, a queue entry and two buffered writes, and a client's turn leaves as a `writev` of two
 * chunks per update: at 50,000 deliveries a second that was most of the server's CPU in the
 * fan-out, and it all came before the first write (bench/realtime.ts). Past Socket.IO, these
 * frames are not seen by its outgoing-packet hooks (`onAnyOutgoing`, connection state recovery),
 * which the gateway does not use.
 *
 * A client is written to directly only while nothing waits for it in Engine.IO (the gateway's
 * `directSocket`: its transport is WebSocket and writable, so no write is in flight and nothing is
 * held), so an update never overtakes a packet sent before it, such as the `historical_data` it
 * continues; otherwise (long-polling before the upgrade, a reply still leaving) its updates go
 * through Engine.IO behind what waits there, where the gateway bounds them and skips a slow client.
 * While a client's last direct write has not left for the kernel (a connection slower than its
 * updates, or one still opening its congestion window), its new updates wait here, only the newest
 * per symbol, and leave together once that write has: a slow client gets fewer, newer updates
 * instead of a growing buffer, and at most one write plus one frame per subscription wait for it.
 */
import type { Socket as TcpSocket } from 'node:net';
import * as ws from 'ws';
import type { PriceUpdate } from './events.js';

/** One client, as the gateway gives it to the fan-out. */
export interface FanoutClient {
  /** Whether the gateway holds price updates back from it (too many packets wait in Engine.IO). */
  slow(): boolean;
  /** Its TCP socket when a write to it now goes out in order (nothing waits in Engine.IO). */
  directSocket(): TcpSocket | undefined;
  /** Sends an encoded Socket.IO packet through Engine.IO, behind what waits there. */
  sendPacket(packet: string): void;
}

export interface LocalFanoutDeps {
  /** The ids of the clients subscribed to `symbol` (its room's members). */
  readonly members: (symbol: string) => Iterable<string> | undefined;
  readonly client: (id: string) => FanoutClient | undefined;
}

export interface LocalFanout {
  /** Queues `update` for the clients subscribed to its symbol now; it leaves on the next turn. */
  send(update: PriceUpdate): void;
  /**
   * Drops what is queued for `client` (of `symbol` only, when given): called as it unsubscribes or
   * disconnects, so no update reaches it after the unsubscribe's ack.
   */
  forget(client: FanoutClient, symbol?: string): void;
}

interface Encoded {
  readonly symbol: string;
  /** The Socket.IO packet, for Engine.IO to send. */
  readonly packet: string;
  /** The whole WebSocket frame of the Engine.IO message packet holding `packet`. */
  readonly frame: Buffer;
}

interface FrameOptions {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly readOnly: boolean;
  readonly rsv1: boolean;
}
/** ws's frame encoder (public in ws, untyped in @types/ws; socket.io-adapter pre-encodes with it). */
const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } };
/** A whole, unmasked text frame, as a server sends. */
const TEXT_FRAME: FrameOptions = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };
/** Engine.IO v4's `message` packet type. */
const ENGINE_IO_MESSAGE = '4';
/** Socket.IO v5's `EVENT` packet type; the default namespace is not written. */
const SOCKET_IO_EVENT = '2';

function encode(update: PriceUpdate): Encoded {
  const packet = SOCKET_IO_EVENT + JSON.stringify(['price_update', update]);
  const frame = Buffer.concat(Sender.frame(Buffer.from(ENGINE_IO_MESSAGE + packet), TEXT_FRAME));
  return { symbol: update.symbol, packet, frame };
}

export function createLocalFanout(deps: LocalFanoutDeps): LocalFanout {
  /** Each client's updates of this turn, in the order they were sent. */
  const queued = new Map<FanoutClient, Encoded[]>();
  let scheduled = false;
  /** Clients whose last direct write has not completed (its bytes still wait in the TCP socket). */
  const writing = new Set<FanoutClient>();
  /** What waits for a writing client: its newest update per symbol. */
  const held = new Map<FanoutClient, Map<string, Encoded>>();

  const hold = (client: FanoutClient, updates: readonly Encoded[]): void => {
    const newest = held.get(client) ?? new Map<string, Encoded>();
    for (const update of updates) newest.set(update.symbol, update);
    held.set(client, newest);
  };
  const deliver = (client: FanoutClient, updates: readonly Encoded[]): void => {
    if (client.slow()) return;
    if (writing.has(client)) return hold(client, updates);
    const tcp = client.directSocket();
    if (!tcp) {
      for (const update of updates) client.sendPacket(update.packet);
      return;
    }
    writing.add(client);
    const frames = updates.length === 1 ? updates[0]!.frame : Buffer.concat(updates.map((u) => u.frame));
    tcp.write(frames, (error) => {
      writing.delete(client);
      const waiting = held.get(client);
      held.delete(client);
      // A failed write means a closed socket: Engine.IO closes the connection too.
      if (waiting && !error) deliver(client, [...waiting.values()]);
    });
  };
  const flush = (): void => {
    scheduled = false;
    for (const [client, updates] of queued) deliver(client, updates);
    queued.clear();
  };

  return {
    send(update) {
      let encoded: Encoded | undefined;
      for (const id of deps.members(update.symbol) ?? []) {
        const client = deps.client(id);
        if (!client) continue;
        encoded ??= encode(update);
        const list = queued.get(client);
        if (list) list.push(encoded);
        else queued.set(client, [encoded]);
      }
      if (encoded && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    forget(client, symbol) {
      if (symbol === undefined) {
        writing.delete(client);
        held.delete(client);
        queued.delete(client);
        return;
      }
      const waiting = held.get(client);
      waiting?.delete(symbol);
      if (waiting?.size === 0) held.delete(client);
      const list = queued.get(client);
      if (!list) return;
      const kept = list.filter((update) => update.symbol !== symbol);
      if (kept.length > 0) queued.set(client, kept);
      else queued.delete(client);
    },
  };
}
