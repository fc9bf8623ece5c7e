/**
 * Calls `onSessionClose` after each session boundary. The service's `now` may run faster than
 * timers (the simulated exchange's accelerated clock) and timers drift, so the wait is re-checked
 * against `now` at least every `SESSION_CHECK_MAX_MS` instead of trusting one long timeout.
 */
import type { Bucket } from '../domain/intervals.js';

/** Longest real wait between two looks at the clock, in ms. */
export const SESSION_CHECK_MAX_MS = 1000;
/**
 * Real ms between a boundary and the push: the session's last 1m kline closes at the boundary and
 * reaches the store within the write buffer's 1 s flush, so reading at once would miss it.
 */
export const SESSION_CLOSE_GRACE_MS = 2000;

export interface SessionWatchDeps {
  readonly now: () => number;
  readonly sessionAt: (time: number) => Bucket;
  readonly onSessionClose: (closed: Bucket) => void;
  readonly graceMs?: number;
}

export function watchSessions(deps: SessionWatchDeps): { stop(): void } {
  const { now, sessionAt, onSessionClose } = deps;
  const graceMs = deps.graceMs ?? SESSION_CLOSE_GRACE_MS;
  let current = sessionAt(now());
  let timer: NodeJS.Timeout | undefined;
  const pushes = new Set<NodeJS.Timeout>();

  const check = (): void => {
    const time = now();
    if (time > current.closeTime) {
      const closed = current;
      current = sessionAt(time);
      const push = setTimeout(() => {
        pushes.delete(push);
        onSessionClose(closed);
      }, graceMs);
      pushes.add(push);
    }
    timer = setTimeout(check, Math.min(Math.max(1, current.closeTime + 1 - time), SESSION_CHECK_MAX_MS));
    timer.unref(); // watching the clock alone must not keep a process alive
  };
  check();

  return {
    stop() {
      clearTimeout(timer);
      for (const push of pushes) clearTimeout(push);
      pushes.clear();
    },
  };
}
