import { pino } from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../adapters/memory/cache.js';
import type { PriceSample } from '../domain/price.js';
import { createCacheWriter, MAX_PENDING_CACHE_SAMPLES } from './cache-writer.js';

const T = Date.parse('2026-01-01T00:00:00Z');
const sample = (i: number): PriceSample => ({
  symbol: 'BTCUSDT',
  price: String(100 + i),
  timestamp: T + i * 1000,
});

/** A real in-process cache whose writes can be made to fail, as an unreachable Redis's do. */
function flakyCache() {
  const cache = new MemoryCache({ now: () => T });
  const state = { failing: false };
  const append = cache.appendWindow.bind(cache);
  cache.appendWindow = (samples) =>
    state.failing ? Promise.reject(new Error('redis down')) : append(samples);
  const mark = cache.markWindowGap.bind(cache);
  cache.markWindowGap = (upTo) => (state.failing ? Promise.reject(new Error('redis down')) : mark(upTo));
  return { cache, state };
}

describe('cache writer', () => {
  it('logs each outage once, including a second outage with the same error, and counts its writes', async () => {
    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          warnings.push(String(chunk));
          done();
        },
      }),
    );
    const { cache, state } = flakyCache();
    const writer = createCacheWriter({ cache, logger });
    const step = async (i: number) => {
      writer.add([], [sample(i)]);
      await writer.idle();
    };
    state.failing = true;
    await step(0);
    await step(1); // the same outage: not logged again
    state.failing = false;
    await step(2);
    state.failing = true;
    await step(3); // a new outage with the same message: logged
    expect(warnings.filter((line) => line.includes('cache write failed'))).toHaveLength(2);
    expect(writer.stats()).toMatchObject({
      writes: 1,
      failures: 3,
      droppedSamples: 0,
      lastError: 'redis down',
    });
  });

  it('keeps at most MAX_PENDING_CACHE_SAMPLES waiting behind a write in flight, dropping the oldest', async () => {
    const { cache } = flakyCache();
    const writer = createCacheWriter({ cache, logger: pino({ level: 'silent' }) });
    writer.add([], [sample(0)]); // in flight
    for (let i = 1; i <= MAX_PENDING_CACHE_SAMPLES + 10; i++) writer.add([], [sample(i)]);
    expect(writer.stats().droppedSamples).toBe(10);
    await writer.idle();
    expect(writer.stats()).toMatchObject({ writes: 2, failures: 0, droppedSamples: 10 });
  });

  it('marks the window gap up to the newest lost sample before it appends anything newer', async () => {
    const { cache, state } = flakyCache();
    const order: string[] = [];
    const mark = cache.markWindowGap.bind(cache);
    cache.markWindowGap = (upTo) => {
      order.push(`gap ${upTo - T}`);
      return mark(upTo);
    };
    const append = cache.appendWindow.bind(cache);
    cache.appendWindow = (samples) => {
      order.push(`append ${samples.map((s) => s.timestamp - T).join(',')}`);
      return append(samples);
    };
    const writer = createCacheWriter({ cache, logger: pino({ level: 'silent' }) });
    writer.add([], [sample(0)]);
    await writer.idle();
    state.failing = true;
    writer.add([], [sample(1), sample(2)]); // lost: Redis is down
    await writer.idle();
    expect(await cache.windowGap()).toBeUndefined();
    state.failing = false;
    writer.add([], [sample(3)]);
    await writer.idle();
    expect(order).toEqual(['append 0', 'append 1000,2000', 'gap 2000', 'append 3000']);
    expect(await cache.windowGap()).toBe(T + 2000);
    writer.add([], [sample(4)]);
    await writer.idle();
    expect(order.at(-1)).toBe('append 4000'); // marked once
  });

  it('marks the samples it dropped from a full queue as a window gap', async () => {
    const { cache } = flakyCache();
    const writer = createCacheWriter({ cache, logger: pino({ level: 'silent' }) });
    writer.add([], [sample(0)]); // in flight
    for (let i = 1; i <= MAX_PENDING_CACHE_SAMPLES + 10; i++) writer.add([], [sample(i)]);
    await writer.idle();
    expect(await cache.windowGap()).toBe(T + 10 * 1000);
  });

  it('marks a gap it is told of (a takeover) with its next write, and counts no samples lost when only quotes fail', async () => {
    const { cache } = flakyCache();
    const quotes = cache.setQuotes.bind(cache);
    let quotesFail = true;
    cache.setQuotes = (batch) => (quotesFail ? Promise.reject(new Error('quotes refused')) : quotes(batch));
    const writer = createCacheWriter({ cache, logger: pino({ level: 'silent' }) });
    writer.markLost(T - 5000);
    writer.add([], [sample(0)]);
    await writer.idle();
    expect(await cache.windowGap()).toBe(T - 5000);
    expect(writer.stats()).toMatchObject({ writes: 0, failures: 1 });
    quotesFail = false;
    writer.add([], [sample(1)]);
    await writer.idle();
    // The window took sample 0 although the quotes failed: no gap for it.
    expect(await cache.windowGap()).toBe(T - 5000);
    expect(await cache.window({ symbol: 'BTCUSDT' })).toEqual([sample(0), sample(1)]);
  });
});
