import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBroadcaster } from './broadcaster.js';
import type { PriceUpdate } from './events.js';

const INTERVAL_MS = 1000;

function setup(listening = true) {
  let clock = 0;
  let price = 1;
  let timestamp = 0;
  const sent: PriceUpdate[] = [];
  const broadcaster = createBroadcaster({
    intervalMs: INTERVAL_MS,
    clock: () => clock,
    fanout: { hasListeners: () => listening, send: (update) => void sent.push(update) },
    latest: async (symbol) => ({
      symbol,
      price,
      timestamp,
      change24h: 0,
      changePercent24h: 0,
      high24h: price,
      low24h: price,
      volume24h: 0,
    }),
  });
  const sample = async (at: number, newPrice: number) => {
    clock = at;
    price = newPrice;
    timestamp = at;
    broadcaster.onSamples([{ symbol: 'BTCUSDT', price: String(newPrice), timestamp: at }]);
    await vi.advanceTimersByTimeAsync(0);
  };
  const advance = async (ms: number) => {
    clock += ms;
    await vi.advanceTimersByTimeAsync(ms);
  };
  return { broadcaster, sent, sample, advance };
}

describe('broadcaster', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends at once in a window without an update, else only the newest when the next window opens', async () => {
    const { sent, sample, advance } = setup();
    await sample(0, 1);
    expect(sent.map((u) => u.price)).toEqual([1]);
    await sample(100, 2);
    await sample(200, 3);
    expect(sent.map((u) => u.price)).toEqual([1]);
    await advance(INTERVAL_MS);
    expect(sent.map((u) => u.price)).toEqual([1, 3]);
    await advance(5 * INTERVAL_MS);
    expect(sent).toHaveLength(2); // no newer sample, nothing sent
    await sample(7000, 4);
    expect(sent.map((u) => u.price)).toEqual([1, 3, 4]);
  });

  it('does not drift: a ticker a second, each arriving a little earlier than an interval after the last, leaves at once', async () => {
    const { sent, sample } = setup();
    // The exchange's tickers land 995-999 ms apart; every one of them must leave on arrival.
    const arrivals = [998, 1995, 2991, 3987, 4982, 5979];
    for (const [i, at] of arrivals.entries()) {
      await sample(at, i + 1);
      expect(sent.map((u) => u.price)).toEqual(arrivals.slice(0, i + 1).map((_, k) => k + 1));
    }
  });

  it('says an update is pending from the sample that marks it until it is sent, waiting for its window included', async () => {
    const { broadcaster, sent, sample, advance } = setup();
    broadcaster.onSamples([{ symbol: 'BTCUSDT', price: '1', timestamp: 0 }]);
    expect(broadcaster.pending('BTCUSDT')).toBe(true); // marked, sent on the next turn
    await advance(0);
    expect(sent).toHaveLength(1);
    expect(broadcaster.pending('BTCUSDT')).toBe(false);
    await sample(100, 2); // the window had its update: waits for the next one
    expect(broadcaster.pending('BTCUSDT')).toBe(true);
    await advance(INTERVAL_MS);
    expect(sent.map((u) => u.price)).toEqual([1, 2]);
    expect(broadcaster.pending('BTCUSDT')).toBe(false);
    expect(broadcaster.pending('ETHUSDT')).toBe(false);
  });

  it('says an update is pending while its quote is being read', async () => {
    let release: () => void = () => undefined;
    const sent: PriceUpdate[] = [];
    const broadcaster = createBroadcaster({
      intervalMs: INTERVAL_MS,
      clock: () => 0,
      fanout: { hasListeners: () => true, send: (update) => void sent.push(update) },
      latest: (symbol) =>
        new Promise((resolve) => {
          const update = { symbol, price: 1, timestamp: 1, change24h: 0, changePercent24h: 0 };
          release = () => resolve({ ...update, high24h: 1, low24h: 1, volume24h: 0 });
        }),
    });
    broadcaster.onSamples([{ symbol: 'BTCUSDT', price: '1', timestamp: 1 }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(broadcaster.pending('BTCUSDT')).toBe(true); // the flush ran; the read has not answered
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    expect(broadcaster.pending('BTCUSDT')).toBe(false);
  });

  it('does nothing for a symbol nobody listens to, and nothing after close', async () => {
    const quiet = setup(false);
    await quiet.sample(0, 1);
    expect(quiet.sent).toEqual([]);
    const closing = setup();
    await closing.sample(0, 1);
    await closing.sample(10, 2);
    closing.broadcaster.close();
    await closing.advance(INTERVAL_MS);
    expect(closing.sent.map((u) => u.price)).toEqual([1]);
  });
});
