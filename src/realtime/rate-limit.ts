/** Per-client event budget: a flooding client is throttled; the others never notice. */

/** Events one client may send in a one-second window before it is throttled. */
export const MAX_EVENTS_PER_CLIENT_PER_SECOND = 20;
/** How long a throttled client's events are dropped, in ms. */
export const THROTTLE_MS = 5000;
const WINDOW_MS = 1000;

export type RateDecision = 'allow' | 'throttle' | 'drop';

/** `throttle` once when the budget is exceeded (tell the client), then `drop` until the throttle ends. */
export function createRateLimiter(
  clock: () => number = () => performance.now(),
  maxPerSecond = MAX_EVENTS_PER_CLIENT_PER_SECOND,
  throttleMs = THROTTLE_MS,
): () => RateDecision {
  let windowStart = -Infinity;
  let count = 0;
  let throttledUntil = -Infinity;
  return () => {
    const at = clock();
    if (at < throttledUntil) return 'drop';
    if (at - windowStart >= WINDOW_MS) {
      windowStart = at;
      count = 0;
    }
    count++;
    if (count <= maxPerSecond) return 'allow';
    throttledUntil = at + throttleMs;
    windowStart = -Infinity;
    return 'throttle';
  };
}
