/**
 * The realtime bench's clients and floor server speak WebSocket themselves (bench/ws-wire.ts); if
 * they spoke it wrongly the bench would measure nothing. Checked against `ws`, the library the
 * service itself runs on.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { acceptKey, createFrameReader, newKey, textFrame } from '../bench/ws-wire.js';

let server: WebSocketServer | undefined;
let client: Socket | undefined;
afterEach(async () => {
  client?.destroy();
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = client = undefined;
});

/** A `ws` server and a raw TCP client that has done the upgrade by hand; resolves with both ends. */
async function upgradedPair(): Promise<{ peer: WebSocket; socket: Socket; rest: Buffer }> {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const socket = (client = connect(port, '127.0.0.1'));
  const key = newKey();
  const peer = once(server, 'connection').then(([ws]) => ws as WebSocket);
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let head = Buffer.alloc(0);
  while (!head.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    head = Buffer.concat([head, chunk]);
  }
  const end = head.indexOf('\r\n\r\n') + 4;
  const text = head.toString('latin1', 0, end);
  expect(text.startsWith('HTTP/1.1 101')).toBe(true);
  expect(text).toContain(`Sec-WebSocket-Accept: ${acceptKey(key)}`);
  return { peer: await peer, socket, rest: head.subarray(end) };
}

describe('bench WebSocket wire', () => {
  it('computes the accept key of RFC 6455 section 1.3', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('sends masked text frames, short and 16-bit long, that ws reads as sent', async () => {
    const { peer, socket } = await upgradedPair();
    const long = `42["subscribe",${JSON.stringify({ symbol: 'X'.repeat(300) })}]`;
    const received: string[] = [];
    peer.on('message', (data: Buffer) => received.push(data.toString()));
    socket.write(Buffer.concat([textFrame('40', true), textFrame(long, true)]));
    await expect.poll(() => received).toEqual(['40', long]);
  });

  it('reads ws frames back whole when they arrive split anywhere, headers included', async () => {
    const { peer, socket, rest } = await upgradedPair();
    const texts: string[] = [];
    let bytes: Buffer[] = [rest];
    socket.on('data', (chunk: Buffer) => bytes.push(chunk));
    const long = 'y'.repeat(70_000);
    // A price update's size (16-bit length, as most of the bench's frames), then a 64-bit one.
    const update = `42["price_update",${JSON.stringify({ symbol: 'BTCUSDT', note: 'x'.repeat(150) })}]`;
    peer.send('2');
    peer.send(update);
    peer.send(long);
    await expect.poll(() => Buffer.concat(bytes).length).toBe(2 + 1 + 4 + update.length + 10 + long.length);
    const read = createFrameReader({ text: (text) => texts.push(text), close: () => texts.push('<close>') });
    const stream = Buffer.concat(bytes);
    // A byte at a time through the short frames and the long one's 10-byte header, then in slices.
    const bytewise = 2 + 1 + 4 + update.length + 10 + 3;
    for (let at = 0; at < stream.length; at += at < bytewise ? 1 : 997) {
      read(stream.subarray(at, at < bytewise ? at + 1 : at + 997));
    }
    bytes = [];
    expect(texts).toEqual(['2', update, long]);
  });

  it('reads its own frames, masked or not and of every length field, a byte at a time, and reports a close', () => {
    const texts: string[] = [];
    const read = createFrameReader({ text: (text) => texts.push(text), close: () => texts.push('<close>') });
    const sent = ['hello', 'u'.repeat(200), 'w'.repeat(70_000)];
    const stream = Buffer.concat([
      ...sent.map((text) => textFrame(text, true)),
      ...sent.map((text) => textFrame(text, false)),
      Buffer.from([0x88, 0x00]),
    ]);
    for (let at = 0; at < stream.length; at += 1) read(stream.subarray(at, at + 1));
    expect(texts).toEqual([...sent, ...sent, '<close>']);
  });

  it('sends unmasked frames of every length field that a ws client reads as sent', async () => {
    const { createServer } = await import('node:net');
    const { WebSocket } = await import('ws');
    const sent = ['0{"sid":"a"}', 'u'.repeat(200), 'w'.repeat(70_000)];
    const raw = createServer((socket) => {
      socket.once('data', (request: Buffer) => {
        const key = /sec-websocket-key: (\S+)/i.exec(request.toString('latin1'))![1]!;
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
        );
        socket.write(Buffer.concat(sent.map((text) => textFrame(text, false))));
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const { port } = raw.address() as { port: number };
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const received: string[] = [];
    ws.on('message', (data: Buffer) => received.push(data.toString()));
    try {
      await expect.poll(() => received.length).toBe(3);
      expect(received).toEqual(sent);
    } finally {
      ws.terminate();
      await new Promise((resolve) => raw.close(resolve));
    }
  });
});
