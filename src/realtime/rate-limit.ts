/**
 * Per-client event budget, a token bucket: a client may send a burst of up to MAX_EVENT_BURST events
 * (enough to subscribe to its whole watch list at once, on connect or after a reconnect), refilled
 * at MAX_EVENTS_PER_CLIENT_PER_SECOND. A client that empties it is flooding: it is throttled, and
 * the others never notice.
 */

/** Events one client may send at once: its 250 subscriptions and a few queries. */
export const MAX_EVENT_BURST = 300;
/** Events per second a client may keep sending (the bucket's refill rate). */
export const MAX_EVENTS_PER_CLIENT_PER_SECOND = 20;
/** How long a throttled client's events are dropped, in ms. */
export const THROTTLE_MS = 5000;

export type RateDecision = 'allow' | 'throttle' | 'drop';

/** `throttle` once when the bucket is empty (tell the client), then `drop` until the throttle ends. */
export function createRateLimiter(
  clock: () => number = () => performance.now(),
  burst = MAX_EVENT_BURST,
  perSecond = MAX_EVENTS_PER_CLIENT_PER_SECOND,
  throttleMs = THROTTLE_MS,
): () => RateDecision {
  let tokens = burst;
  let refilledAt = clock();
  let throttledUntil = -Infinity;
  return () => {
    const at = clock();
    if (at < throttledUntil) return 'drop';
    tokens = Math.min(burst, tokens + ((at - refilledAt) * perSecond) / 1000);
    refilledAt = at;
    if (tokens >= 1) {
      tokens--;
      return 'allow';
    }
    throttledUntil = at + throttleMs;
    return 'throttle';
  };
}
