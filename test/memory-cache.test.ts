/** The in-process cache: the cache contract, and that expired entries are swept away. */
import { describe, expect, it } from 'vitest';
import { MEMORY_CACHE_SWEEP_INTERVAL_MS, MemoryCache } from '../src/adapters/memory/cache.js';
import { HOUR_MS } from '../src/domain/intervals.js';
import { SECOND_MS } from '../src/domain/price.js';
import { WINDOW_COVERAGE_MARGIN_MS } from '../src/realtime/gateway.js';
import { IN_PROCESS_WINDOW_SLACK_MS, inProcessWindowMs } from '../src/scale/platform.js';
import { QUOTE_TTL_MS, SESSION_TTL_MS, WINDOW_MS, WINDOW_SECONDS } from '../src/ports/cache.js';
import { everySecond, quote, runCacheContract, session } from './cache-contract.js';

runCacheContract('memory', async (now) => {
  const cache = new MemoryCache({ now });
  return { cache, cleanup: () => cache.close() };
});

describe('memory cache', () => {
  const START = Date.parse('2024-09-21T00:00:00Z');

  it('sweeps expired quotes, sessions and idle windows away on later writes', async () => {
    let clock = START;
    const cache = new MemoryCache({ now: () => clock });
    await cache.setQuotes([quote('BTCUSDT', START, '1')]);
    await cache.appendWindow(everySecond('BTCUSDT', START, 1));
    const candle = session({ openTime: START, closeTime: START + 1, closed: true });
    await cache.setSessions([{ symbol: 'BTCUSDT', candle }]);
    expect(cache.size()).toEqual({ quotes: 1, windows: 1, samples: 1, sessions: 1 });

    clock += Math.max(QUOTE_TTL_MS, WINDOW_MS) + MEMORY_CACHE_SWEEP_INTERVAL_MS;
    await cache.setQuotes([quote('ETHUSDT', clock, '1')]);
    expect(cache.size()).toEqual({ quotes: 1, windows: 0, samples: 0, sessions: 1 });

    clock += SESSION_TTL_MS;
    await cache.appendWindow([]);
    expect(cache.size()).toEqual({ quotes: 0, windows: 0, samples: 0, sessions: 0 });
  });

  it('keeps a shorter window when asked, and drops one idle for that long', async () => {
    let clock = START;
    const cache = new MemoryCache({ now: () => clock, windowMs: HOUR_MS });
    expect(cache.windowMs).toBe(HOUR_MS);
    const hour = HOUR_MS / SECOND_MS;
    for (let second = 0; second < 2 * hour; second += 100) {
      clock = START + second * SECOND_MS;
      await cache.appendWindow(everySecond('BTCUSDT', clock, 100));
    }
    expect(cache.size().samples).toBe(hour);
    const window = await cache.window({ symbol: 'BTCUSDT' });
    expect(window[0]!.timestamp).toBe(window.at(-1)!.timestamp - (hour - 1) * SECOND_MS);
    clock += HOUR_MS;
    expect(await cache.window({ symbol: 'BTCUSDT' })).toEqual([]);
    expect(() => new MemoryCache({ windowMs: WINDOW_MS + SECOND_MS })).toThrow(RangeError);
    expect(() => new MemoryCache({ windowMs: 1500 })).toThrow(RangeError);
  });

  it('is sized for HISTORY_ON_SUBSCRIBE when the service runs alone, within WINDOW_MS', () => {
    expect(inProcessWindowMs(HOUR_MS)).toBe(HOUR_MS + WINDOW_COVERAGE_MARGIN_MS + IN_PROCESS_WINDOW_SLACK_MS);
    expect(inProcessWindowMs(HOUR_MS + 1)).toBe(inProcessWindowMs(HOUR_MS) + SECOND_MS);
    expect(inProcessWindowMs(WINDOW_MS)).toBe(WINDOW_MS);
  });

  it('keeps at most a window of samples per symbol however many arrive', async () => {
    let clock = START;
    const cache = new MemoryCache({ now: () => clock });
    for (let second = 0; second < WINDOW_SECONDS * 2; second += 100) {
      clock = START + second * SECOND_MS;
      await cache.appendWindow(everySecond('BTCUSDT', clock, 100));
      expect(cache.size().samples).toBeLessThanOrEqual(WINDOW_SECONDS);
    }
    expect(cache.size().samples).toBe(WINDOW_SECONDS);
  });
});
