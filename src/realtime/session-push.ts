/**
 * When a session closes, its subscribers get `interval_data` (SPEC section 6), once per instance.
 *
 * Alone, an instance pushes when its session watch fires (the boundary plus a grace for the last
 * candle's flush). With a channel across instances (the bus's `sessions`, issue 6), the ingesting
 * instance — whose store writes the session's last candle — announces the close when its watch
 * fires, and every instance pushes on hearing it. An instance that hears no announcement within
 * `announceWaitMs` after its own watch fired (Redis down, or no instance ingesting) pushes anyway,
 * so a session close is never lost to a bus outage; each close is pushed at most once either way.
 */
import type { Bucket } from '../domain/intervals.js';
import type { Bus } from '../ports/bus.js';
import { watchSessions } from './session-watch.js';

/**
 * Real ms an instance waits, after its own watch fired, for the ingesting instance's announcement
 * before pushing without it: longer than a bus round trip and clock differences between instances.
 */
export const SESSION_ANNOUNCE_WAIT_MS = 5000;
/** Closed sessions remembered as pushed, so a late announcement or fallback does not push twice. */
const REMEMBERED_PUSHES = 16;

/** Session closes across instances (the bus's `sessions` channel). */
export interface SessionCloseChannel {
  /** Whether this instance announces closes: it ingests, so the session's last candle is stored by it. */
  announces(): boolean;
  announce(closedOpenTime: number): void;
  /** Returns the unsubscription. */
  onAnnounced(listener: (closedOpenTime: number) => void): () => void;
}

/** The channel over the bus's `sessions` messages; `announces` says whether this instance ingests now. */
export function sessionCloseChannel(bus: Bus, announces: () => boolean): SessionCloseChannel {
  return {
    announces,
    announce: (closedOpenTime) => bus.publish('sessions', { closedOpenTime }),
    onAnnounced: (listener) => bus.subscribe('sessions', ({ closedOpenTime }) => listener(closedOpenTime)),
  };
}

export interface SessionPushDeps {
  readonly now: () => number;
  readonly sessionAt: (time: number) => Bucket;
  readonly push: (closed: Bucket) => void;
  readonly channel?: SessionCloseChannel;
  /** Work the announcing instance does before it announces (shares the closed sessions); a failure is logged and the close announced anyway. */
  readonly beforeAnnounce?: (closed: Bucket) => Promise<void>;
  readonly onError?: (error: unknown) => void;
  /** Real ms between a boundary and the watch firing (session-watch.ts). */
  readonly graceMs?: number;
  readonly announceWaitMs?: number;
}

export interface SessionPushStatus {
  /** Session closes pushed to subscribers. */
  readonly pushed: number;
  /** Of those, pushed without the announcement, after waiting `announceWaitMs` for it. */
  readonly unannounced: number;
  /** Announcements ignored: not the session that closed last by this instance's clock. */
  readonly refusedAnnouncements: number;
}

export function startSessionPush(deps: SessionPushDeps): { status(): SessionPushStatus; stop(): void } {
  const { now, sessionAt, push, channel } = deps;
  const announceWaitMs = deps.announceWaitMs ?? SESSION_ANNOUNCE_WAIT_MS;
  const pushed: number[] = [];
  const fallbacks = new Set<NodeJS.Timeout>();
  let pushes = 0;
  let unannounced = 0;
  let refusedAnnouncements = 0;

  /** The session that closed last by this instance's clock. */
  const lastClosed = (): Bucket => sessionAt(sessionAt(now()).openTime - 1);

  const pushOnce = (closed: Bucket, announced: boolean): void => {
    if (pushed.includes(closed.openTime)) return;
    pushed.push(closed.openTime);
    if (pushed.length > REMEMBERED_PUSHES) pushed.shift();
    pushes++;
    if (!announced) unannounced++;
    push(closed);
  };

  const stopListening = channel?.onAnnounced((closedOpenTime) => {
    const closed = lastClosed();
    // An announcement ahead of this instance's clock, or of a session long closed, is left to the
    // fallback (or was pushed already).
    if (closed.openTime !== closedOpenTime) {
      refusedAnnouncements++;
      return;
    }
    pushOnce(closed, true);
  });

  const watch = watchSessions({
    now,
    sessionAt,
    graceMs: deps.graceMs,
    onSessionClose: (closed) => {
      if (!channel) return pushOnce(closed, true);
      if (channel.announces()) {
        const announce = () => channel.announce(closed.openTime);
        void (deps.beforeAnnounce?.(closed) ?? Promise.resolve())
          .catch((error: unknown) => deps.onError?.(error))
          .finally(announce);
      }
      const fallback = setTimeout(() => {
        fallbacks.delete(fallback);
        pushOnce(closed, false);
      }, announceWaitMs);
      fallbacks.add(fallback);
    },
  });

  return {
    status: () => ({ pushed: pushes, unannounced, refusedAnnouncements }),
    stop() {
      watch.stop();
      stopListening?.();
      for (const fallback of fallbacks) clearTimeout(fallback);
      fallbacks.clear();
    },
  };
}
