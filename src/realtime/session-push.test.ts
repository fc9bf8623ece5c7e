import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Bucket } from '../domain/intervals.js';
import { startSessionPush, type SessionCloseChannel } from './session-push.js';

const SESSION_MS = 4 * 3600_000;
const GRACE_MS = 100;
const WAIT_MS = 1000;
const sessionAt = (time: number): Bucket => {
  const openTime = Math.floor(time / SESSION_MS) * SESSION_MS;
  return { openTime, closeTime: openTime + SESSION_MS - 1 };
};

/** An instance with a clock starting just before a boundary, and a channel the test speaks on. */
function instance(announces: boolean, beforeAnnounce?: (closed: Bucket) => Promise<void>) {
  const start = 10 * SESSION_MS - 50;
  const realStart = Date.now();
  const now = () => start + (Date.now() - realStart);
  const announced: number[] = [];
  const listeners: ((closedOpenTime: number) => void)[] = [];
  const channel: SessionCloseChannel = {
    announces: () => announces,
    announce: (closedOpenTime) => void announced.push(closedOpenTime),
    onAnnounced: (listener) => {
      listeners.push(listener);
      return () => void listeners.splice(listeners.indexOf(listener), 1);
    },
  };
  const pushed: Bucket[] = [];
  const push = startSessionPush({
    now,
    sessionAt,
    push: (closed) => void pushed.push(closed),
    channel,
    graceMs: GRACE_MS,
    announceWaitMs: WAIT_MS,
    beforeAnnounce,
    onError: () => undefined,
  });
  const hear = (closedOpenTime: number) => {
    for (const listener of listeners) listener(closedOpenTime);
  };
  return { push, pushed, announced, hear, closedOpenTime: 9 * SESSION_MS };
}

describe('session close push', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 0 }));
  afterEach(() => void vi.useRealTimers());

  it('announces a close when it ingests, and pushes it once on hearing it, not again at the fallback', async () => {
    const { push, pushed, announced, hear, closedOpenTime } = instance(true);
    await vi.advanceTimersByTimeAsync(50 + GRACE_MS + 10);
    expect(announced).toEqual([closedOpenTime]);
    expect(pushed).toEqual([]);
    hear(closedOpenTime);
    hear(closedOpenTime); // a duplicate delivery
    await vi.advanceTimersByTimeAsync(WAIT_MS * 2);
    expect(pushed).toEqual([sessionAt(closedOpenTime)]);
    expect(push.status()).toEqual({ pushed: 1, unannounced: 0, refusedAnnouncements: 0 });
    push.stop();
  });

  it('pushes without an announcement after the wait, and ignores the announcement arriving later', async () => {
    const { push, pushed, announced, hear, closedOpenTime } = instance(false);
    await vi.advanceTimersByTimeAsync(50 + GRACE_MS + WAIT_MS - 10);
    expect(announced).toEqual([]);
    expect(pushed).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(pushed).toEqual([sessionAt(closedOpenTime)]);
    hear(closedOpenTime);
    expect(push.status()).toEqual({ pushed: 1, unannounced: 1, refusedAnnouncements: 0 });
    push.stop();
  });

  it('ignores an announcement of a session other than the one that closed last by its own clock', async () => {
    const { push, pushed, hear, closedOpenTime } = instance(false);
    hear(closedOpenTime); // ahead of this instance's clock: that session is still open here
    await vi.advanceTimersByTimeAsync(60);
    hear(closedOpenTime - SESSION_MS); // a session closed long ago
    hear(Number.MAX_SAFE_INTEGER);
    expect(pushed).toEqual([]);
    expect(push.status().refusedAnnouncements).toBe(3);
    hear(closedOpenTime);
    expect(pushed).toEqual([sessionAt(closedOpenTime)]);
    push.stop();
  });

  it('announces only once its work before announcing is done, and announces even if that work fails', async () => {
    let finish: (() => void) | undefined;
    const shared: number[] = [];
    const { push, announced, closedOpenTime } = instance(true, async (closed) => {
      await new Promise<void>((resolve) => (finish = resolve));
      shared.push(closed.openTime);
    });
    await vi.advanceTimersByTimeAsync(50 + GRACE_MS + 10);
    expect(announced).toEqual([]);
    finish!();
    await vi.advanceTimersByTimeAsync(0);
    expect(shared).toEqual([closedOpenTime]);
    expect(announced).toEqual([closedOpenTime]);
    push.stop();

    const failing = instance(true, () => Promise.reject(new Error('store busy')));
    await vi.advanceTimersByTimeAsync(50 + GRACE_MS + 10);
    expect(failing.announced).toEqual([failing.closedOpenTime]);
    failing.push.stop();
  });

  it('pushes nothing after it is stopped', async () => {
    const { push, pushed, hear, closedOpenTime } = instance(false);
    await vi.advanceTimersByTimeAsync(50 + GRACE_MS + 10);
    push.stop();
    hear(closedOpenTime);
    await vi.advanceTimersByTimeAsync(WAIT_MS * 2);
    expect(pushed).toEqual([]);
  });
});
