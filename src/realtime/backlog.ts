/**
 * What waits for one client, in bytes, and whether it still moves. Price updates skip a slow client
 * (gateway.ts, MAX_PENDING_PACKETS_PER_CLIENT), but replies to its own requests still queue for it,
 * so a client that stops reading yet keeps asking would grow its backlog without end. Its backlog is
 * what Engine.IO holds (bytes of packets created since it last handed its buffer to the transport)
 * plus what the TCP socket holds (`writableLength`, written but not yet taken by the kernel); it
 * moves when Engine.IO hands its buffer on or the kernel takes bytes from the socket. A client whose
 * backlog is over MAX_STALLED_BACKLOG_BYTES and has not moved for CLIENT_STALL_MS is stalled. A fast
 * client's burst (250 histories at once) may be larger, but it moves; a client on a slow link moves
 * too, however long its backlog takes. The TCP socket is known for a connection that started as
 * WebSocket (its first request is the upgrade); Engine.IO keeps an upgraded connection's socket to
 * itself, so there the batch last handed to the transport is not seen, and what queues behind it is.
 */
import type { Duplex } from 'node:stream';

export const MAX_STALLED_BACKLOG_BYTES = 4 * 1024 * 1024;
export const CLIENT_STALL_MS = 10_000;

/** The part of a TCP socket the watch reads. */
export type WatchedSocket = Pick<Duplex, 'writableLength'> & { readonly bytesWritten: number };

export interface StallWatch {
  /**
   * True, once, when the client is stalled, given the bytes of packets created for it since its last
   * drain (counted by the caller: a call per packet on the fan-out's hot path measurably costs).
   * Asked once per event-loop turn with packets for the client.
   */
  stalled(pendingBytes: number): boolean;
  /** Engine.IO handed the client's buffer to its transport (the previous write completed). */
  drained(): void;
}

/** `socket`: the client's TCP socket, when known (see above). */
export function createStallWatch(
  socket: WatchedSocket | undefined,
  clock: () => number = () => performance.now(),
): StallWatch {
  let movedAt = clock();
  /** Bytes the kernel had taken from the socket when last looked at. */
  let taken = -1;
  let stalled = false;
  return {
    stalled(pendingBytes) {
      if (stalled || pendingBytes + (socket?.writableLength ?? 0) <= MAX_STALLED_BACKLOG_BYTES) return false;
      const at = clock();
      if (socket) {
        // bytesWritten counts what is still buffered too; without it, what the kernel took.
        const takenNow = socket.bytesWritten - socket.writableLength;
        if (takenNow !== taken) {
          taken = takenNow;
          movedAt = at;
        }
      }
      stalled = at - movedAt > CLIENT_STALL_MS;
      return stalled;
    },
    drained() {
      movedAt = clock();
    },
  };
}
