import { describe, expect, it } from 'vitest';
import type { MiniTicker } from '../binance/events.js';
import { createLiveState } from './live-state.js';

const T = Date.parse('2024-09-21T12:00:00Z');
const ticker = (symbol: string, eventTime: number, close: string): MiniTicker => ({
  symbol,
  eventTime,
  close,
  open: '100',
  high: '110',
  low: '90',
  volume: '1000',
  quoteVolume: '100000',
});

describe('live state', () => {
  it('keeps the latest quote with its 24 h statistics and emits a sample for it', () => {
    const state = createLiveState();
    const samples = state.applyTickers(
      [ticker('BTCUSDT', T + 10, '101.5'), ticker('ETHUSDT', T + 20, '5')],
      T + 30,
    );
    expect(samples).toEqual([
      { symbol: 'BTCUSDT', price: '101.5', timestamp: T + 10 },
      { symbol: 'ETHUSDT', price: '5', timestamp: T + 20 },
    ]);
    expect(state.latest('BTCUSDT')).toMatchObject({
      price: '101.5',
      open24h: '100',
      high24h: '110',
      receivedAt: T + 30,
    });
    expect(state.symbols().sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
  });

  it('emits a second ticker of one second as that second’s sample, so the latest of a second wins', () => {
    const state = createLiveState();
    state.applyTickers([ticker('BTCUSDT', T + 100, '1')], T);
    expect(state.applyTickers([ticker('BTCUSDT', T + 900, '2')], T)).toEqual([
      { symbol: 'BTCUSDT', price: '2', timestamp: T + 900 },
    ]);
    expect(state.latest('BTCUSDT')?.price).toBe('2');
    expect(state.applyTickers([ticker('BTCUSDT', T + 1000, '3')], T)).toHaveLength(1);
  });

  it('ignores a reordered or duplicated ticker older than the one held', () => {
    const state = createLiveState();
    state.applyTickers([ticker('BTCUSDT', T + 5000, '2')], T);
    expect(state.applyTickers([ticker('BTCUSDT', T + 4000, '1')], T)).toEqual([]);
    expect(state.applyTickers([ticker('BTCUSDT', T + 5000, '2')], T)).toEqual([]);
    expect(state.latest('BTCUSDT')?.price).toBe('2');
  });

  it('flags as stale the tracked symbols whose updates stopped while others flow', () => {
    const state = createLiveState();
    state.applyTickers([ticker('BTCUSDT', T, '1'), ticker('ETHUSDT', T, '1')], T);
    state.applyTickers([ticker('BTCUSDT', T + 90_000, '2')], T + 90_000);
    expect(state.stale(['BTCUSDT', 'ETHUSDT', 'SOLUSDT'], T + 91_000, 60_000)).toEqual([
      'ETHUSDT',
      'SOLUSDT',
    ]);
  });
});
