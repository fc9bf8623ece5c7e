import { describe, expect, it } from 'vitest';
import { CLIENT_STALL_MS, createStallWatch, MAX_STALLED_BACKLOG_BYTES, type StallWatch } from './backlog.js';

const OVER = MAX_STALLED_BACKLOG_BYTES + 1;

/** The caller's count of bytes created since the last drain, and one turn's question to the watch. */
function client(watch: StallWatch) {
  let pendingBytes = 0;
  return {
    judge(bytes: number): boolean {
      const stalled = watch.stalled(pendingBytes);
      pendingBytes += bytes;
      return stalled;
    },
    drained() {
      pendingBytes = 0;
      watch.drained();
    },
  };
}

/** A TCP socket holding `writableLength` bytes of which the kernel has taken `taken` so far. */
function socket(writableLength: number) {
  const state = { writableLength, taken: 0 };
  return {
    state,
    view: {
      get writableLength() {
        return state.writableLength;
      },
      get bytesWritten() {
        return state.taken + state.writableLength;
      },
    },
  };
}

describe('stall watch', () => {
  it('calls a client stalled, once, when its large backlog has not moved for the stall time', () => {
    let clock = 0;
    const tcp = socket(OVER);
    const c = client(createStallWatch(tcp.view, () => clock));
    expect(c.judge(100)).toBe(false);
    clock += CLIENT_STALL_MS;
    expect(c.judge(100)).toBe(false);
    clock += 1;
    expect(c.judge(100)).toBe(true);
    expect(c.judge(100)).toBe(false);
  });

  it('never calls a client on a slow link stalled while the kernel keeps taking its bytes', () => {
    let clock = 0;
    const tcp = socket(10 * OVER);
    const c = client(createStallWatch(tcp.view, () => clock));
    for (let second = 0; second < 120; second++) {
      clock += 1000;
      tcp.state.taken += 1024; // a kilobyte a second
      expect(c.judge(100)).toBe(false);
    }
  });

  it('judges what Engine.IO holds when the socket is unknown, and a drain is movement', () => {
    let clock = 0;
    const c = client(createStallWatch(undefined, () => clock));
    expect(c.judge(OVER)).toBe(false);
    clock += CLIENT_STALL_MS + 1;
    c.drained();
    expect(c.judge(OVER)).toBe(false); // moved just now
    clock += CLIENT_STALL_MS + 1;
    expect(c.judge(1)).toBe(true);
  });

  it('leaves a small backlog alone however long it waits', () => {
    let clock = 0;
    const c = client(createStallWatch(socket(1024).view, () => clock));
    clock += 10 * CLIENT_STALL_MS;
    expect(c.judge(1024)).toBe(false);
  });
});
