/**
 * A Socket.IO client on a bare `ws` WebSocket, speaking the wire protocol itself (Engine.IO v4
 * packets `0` open, `2` ping / `3` pong, `4` message; Socket.IO v5 `0` connect, `2` event), so a
 * test can pause reading at the TCP level, which socket.io-client cannot do.
 */
import { WebSocket } from 'ws';
import type { PriceUpdate } from '../../src/realtime/events.js';

const PRICE_UPDATE_PREFIX = '42["price_update",';
const CONNECT_TIMEOUT_MS = 5000;

export interface RawClient {
  readonly socket: WebSocket;
  /** Every `price_update` received so far, in order. */
  readonly updates: PriceUpdate[];
  emit(event: string, payload: unknown): void;
  /** The next `price_update` (received from now on) that satisfies `accept`. */
  nextUpdate(accept?: (update: PriceUpdate) => boolean, timeoutMs?: number): Promise<PriceUpdate>;
}

/** Connects to the default namespace over WebSocket only; resolves once Socket.IO has accepted. */
export async function openRawClient(httpUrl: string): Promise<RawClient> {
  const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, {
    perMessageDeflate: false,
  });
  const updates: PriceUpdate[] = [];
  const waiters = new Set<(update: PriceUpdate) => void>();
  const connected = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no Socket.IO connect')), CONNECT_TIMEOUT_MS);
    socket.on('error', reject);
    socket.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text.startsWith(PRICE_UPDATE_PREFIX)) {
        const [, update] = JSON.parse(text.slice(2)) as [string, PriceUpdate];
        updates.push(update);
        for (const waiter of waiters) waiter(update);
      } else if (text.startsWith('0')) socket.send('40');
      else if (text === '2') socket.send('3');
      else if (text.startsWith('40')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await connected;
  return {
    socket,
    updates,
    emit(event, payload) {
      socket.send(`42${JSON.stringify([event, payload])}`);
    },
    nextUpdate(accept = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching price_update within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (update: PriceUpdate) => {
          if (!accept(update)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(update);
        };
        waiters.add(waiter);
      });
    },
  };
}
