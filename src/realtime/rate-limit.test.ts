import { describe, expect, it } from 'vitest';
import {
  createRateLimiter,
  MAX_EVENT_BURST,
  MAX_EVENTS_PER_CLIENT_PER_SECOND,
  THROTTLE_MS,
} from './rate-limit.js';

describe('rate limiter', () => {
  it('allows a whole burst at once, then throttles once and drops until the throttle ends', () => {
    let clock = 0;
    const allow = createRateLimiter(() => clock);
    for (let i = 0; i < MAX_EVENT_BURST; i++) expect(allow()).toBe('allow');
    expect(allow()).toBe('throttle');
    expect(allow()).toBe('drop');
    clock += THROTTLE_MS - 1;
    expect(allow()).toBe('drop');
    clock += 1; // the bucket refilled meanwhile
    expect(allow()).toBe('allow');
  });

  it('lets a client go on at the refill rate for ever once its burst is spent', () => {
    let clock = 0;
    const allow = createRateLimiter(() => clock);
    for (let i = 0; i < MAX_EVENT_BURST; i++) allow();
    const gapMs = 1000 / MAX_EVENTS_PER_CLIENT_PER_SECOND;
    for (let i = 0; i < 10 * MAX_EVENTS_PER_CLIENT_PER_SECOND; i++) {
      clock += gapMs;
      expect(allow()).toBe('allow');
    }
  });
});
