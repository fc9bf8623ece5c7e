/**
 * The few parts of the WebSocket wire (RFC 6455) that the realtime bench's load generator and its
 * raw-TCP floor server speak themselves: the upgrade's accept key, single text frames (masked from a
 * client, as the RFC requires), and a reader that splits a byte stream into frames. Unfragmented
 * text frames only, no extensions: what Engine.IO sends and expects without per-message deflate.
 * The service and its tests use `ws` and socket.io-client; this exists so that thousands of bench
 * clients cost little more than their reads, and the latency they see is the server's.
 */
import { createHash, randomBytes } from 'node:crypto';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const FIN = 0x80;
const MASKED = 0x80;
/** Payload lengths up to this fit the 7-bit length field; up to 65,535 take 16 bits. */
const SHORT_LENGTH_MAX = 125;
const LENGTH_16 = 126;
const LENGTH_64 = 127;
/** Largest frame the reader accepts, in bytes: the bench's frames are a few hundred. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`. */
export const acceptKey = (key: string): string =>
  createHash('sha1')
    .update(key + ACCEPT_GUID)
    .digest('base64');

/** A fresh `Sec-WebSocket-Key`. */
export const newKey = (): string => randomBytes(16).toString('base64');

/** One final text frame; `mask` for frames a client sends (with a random key, per the RFC). */
export function textFrame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text);
  const lengthBytes = payload.length <= SHORT_LENGTH_MAX ? 0 : payload.length <= 0xffff ? 2 : 8;
  const header = 2 + lengthBytes + (mask ? 4 : 0);
  const frame = Buffer.allocUnsafe(header + payload.length);
  frame[0] = FIN | OPCODE_TEXT;
  const maskBit = mask ? MASKED : 0;
  if (lengthBytes === 0) frame[1] = maskBit | payload.length;
  else if (lengthBytes === 2) {
    frame[1] = maskBit | LENGTH_16;
    frame.writeUInt16BE(payload.length, 2);
  } else {
    frame[1] = maskBit | LENGTH_64;
    frame.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  if (!mask) {
    payload.copy(frame, header);
    return frame;
  }
  const key = randomBytes(4);
  key.copy(frame, header - 4);
  for (let i = 0; i < payload.length; i++) frame[header + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

export interface FrameHandlers {
  text(text: string): void;
  close(): void;
}

/**
 * Splits a stream into frames, masked or not. Text frames go to `text`; a close frame to `close`;
 * other control frames are skipped. Throws on fragments and on frames over MAX_FRAME_BYTES.
 */
export function createFrameReader(handlers: FrameHandlers): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const data = rest ? Buffer.concat([rest, chunk]) : chunk;
    rest = undefined;
    let at = 0;
    while (data.length - at >= 2) {
      const first = data[at]!;
      const second = data[at + 1]!;
      if ((first & FIN) === 0) throw new Error('fragmented frames are not supported');
      let length = second & 0x7f;
      let header = 2;
      if (length === LENGTH_16) {
        if (data.length - at < 4) break;
        length = data.readUInt16BE(at + 2);
        header = 4;
      } else if (length === LENGTH_64) {
        if (data.length - at < 10) break;
        length = Number(data.readBigUInt64BE(at + 2));
        header = 10;
      }
      if (length > MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes`);
      const masked = (second & MASKED) !== 0;
      const start = at + header + (masked ? 4 : 0);
      if (data.length < start + length) break;
      const opcode = first & 0x0f;
      if (masked) {
        for (let i = 0; i < length; i++) data[start + i] = data[start + i]! ^ data[start - 4 + (i & 3)]!;
      }
      at = start + length;
      if (opcode === OPCODE_TEXT) handlers.text(data.toString('utf8', start, at));
      else if (opcode === OPCODE_CLOSE) handlers.close();
    }
    if (at < data.length) {
      // Unmasking above mutated the bytes in place; a partial frame has not been touched yet.
      rest = data === chunk ? Buffer.from(data.subarray(at)) : data.subarray(at);
    }
  };
}
