/**
 * A small WebSocket client for simulator tests: records every text frame (raw and parsed), server
 * pings and the close, and waits for conditions with a bounded timeout instead of sleeping.
 */
import { WebSocket, type ClientOptions } from 'ws';

export interface ReceivedFrame {
  readonly text: string;
  /** Parsed JSON, or undefined for a frame that is not JSON. */
  readonly json: unknown;
}

export interface StreamClient {
  readonly socket: WebSocket;
  readonly frames: ReceivedFrame[];
  /** Payloads of the pings received, as text. */
  readonly pings: string[];
  /** Resolves when the socket closes. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** Resolves with the first frame (from `from` on) matching `predicate`. */
  nextFrame(
    predicate: (frame: ReceivedFrame) => boolean,
    from?: number,
    timeoutMs?: number,
  ): Promise<ReceivedFrame>;
  close(): Promise<void>;
}

export const WAIT_TIMEOUT_MS = 5_000;

/** Polls `condition` until it holds; fails after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = WAIT_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export async function openStream(url: string, options: ClientOptions = {}): Promise<StreamClient> {
  const socket = new WebSocket(url, options);
  const frames: ReceivedFrame[] = [];
  const pings: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString()
      : Buffer.isBuffer(data)
        ? data.toString()
        : Buffer.from(data).toString();
    frames.push({ text, json: parse(text) });
  });
  socket.on('ping', (data) => pings.push(data.toString()));
  socket.on('error', () => undefined); // a refused or dropped socket shows as `closed`
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (req, res) => {
      req.destroy();
      reject(new Error(`HTTP ${res.statusCode}`));
    });
    socket.once('close', () => reject(new Error('closed before open')));
  });
  return {
    socket,
    frames,
    pings,
    closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    async nextFrame(predicate, from = 0, timeoutMs = WAIT_TIMEOUT_MS) {
      let found: ReceivedFrame | undefined;
      await waitUntil(() => (found = frames.slice(from).find(predicate)) !== undefined, 'a frame', timeoutMs);
      return found!;
    },
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.terminate();
      await closed;
    },
  };
}

/** Narrowing helpers for frames in tests. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}
