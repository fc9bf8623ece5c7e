/**
 * The live link against the simulated exchange on an accelerated clock, and the check that every
 * closed 1m candle stored equals the exchange's own: none missing, none duplicated, none wrong.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { expect } from 'vitest';
import { SqliteStore } from '../../src/adapters/sqlite/store.js';
import {
  createAcceleratedClock,
  createSimulatedExchange,
  toCandle,
  type SimulatedExchange,
  type SimulatedExchangeOptions,
} from '../../src/binance/simulator/index.js';
import { MINUTE_MS, bucketOpenTime } from '../../src/domain/intervals.js';
import {
  buildLiveLink,
  type LiveLinkParts,
  type LiveLinkSettings,
} from '../../src/market/build-live-link.js';

/** Simulated ms per real ms: one simulated minute per real second. */
export const SPEED = 60;
export const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
/** The accelerated clock starts in the past, so the exchange's HTTP `Date` (real time) never lags it. */
export const CLOCK_START = Date.parse('2026-01-01T00:00:30Z');
export const LOOKBACK_MS = 20 * MINUTE_MS;
/**
 * The live link's timings on a clock at SPEED: a silent connection is dead after 1.5 real seconds,
 * reconnects, polls, flushes and repair retries come within a fraction of a real second, and an
 * unfinished minute is fetched again after 200 real ms (12 simulated seconds) at most.
 */
export const FAST_LINK_TIMINGS = {
  deadAfterMs: 1500,
  backoffBaseMs: 50,
  pollIntervalMs: 100,
  flushIntervalMs: 100,
  repairRetryDelayMs: 200,
  settleRecheckMaxMs: 200,
} as const satisfies Partial<LiveLinkSettings>;

export interface Harness {
  readonly exchange: SimulatedExchange;
  readonly store: SqliteStore;
  readonly parts: LiveLinkParts;
  readonly now: () => number;
  readonly startedAt: number;
  /** Waits `simulatedMs` of exchange time (real sleep of simulatedMs / SPEED). */
  pass(simulatedMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(
  options: {
    exchange?: SimulatedExchangeOptions;
    link?: Partial<LiveLinkSettings>;
    store?: SqliteStore;
  } = {},
): Promise<Harness> {
  const clock = createAcceleratedClock({ start: CLOCK_START, speed: SPEED });
  const exchange = await createSimulatedExchange({
    clock,
    symbols: SYMBOLS,
    includeUniverseExtras: false,
    seed: 7,
    ...options.exchange,
  });
  const now = () => clock.now();
  const store = options.store ?? new SqliteStore({ path: ':memory:', now });
  const parts = buildLiveLink(
    {
      wsUrl: exchange.wsUrl,
      restUrl: exchange.restUrl,
      symbols: SYMBOLS,
      trackTop: 242,
      lookbackMs: LOOKBACK_MS,
      ...FAST_LINK_TIMINGS,
      ...options.link,
    },
    { store, logger: pino({ level: 'silent' }), now },
  );
  const startedAt = now();
  parts.link.start();
  return {
    exchange,
    store,
    parts,
    now,
    startedAt,
    pass: (simulatedMs) => sleep(Math.ceil(simulatedMs / SPEED)),
    async stop() {
      await parts.link.stop();
      await exchange.close();
    },
  };
}

/**
 * Every minute from the lookback start to `until` (exclusive): a closed stored candle exactly when
 * the exchange has a kline (halts stay missing), equal to it field by field.
 */
export async function expectStoredEqualsExchange(harness: Harness, until: number): Promise<void> {
  const from = bucketOpenTime(harness.startedAt - LOOKBACK_MS, MINUTE_MS);
  const last = bucketOpenTime(until, MINUTE_MS) - MINUTE_MS;
  for (const symbol of SYMBOLS) {
    const stored = await harness.store.listCandles({ symbol, resolution: '1m', from, to: last });
    const expected = [];
    for (let openTime = from; openTime <= last; openTime += MINUTE_MS) {
      const kline = harness.exchange.market.trueKline(symbol, openTime);
      if (kline) expected.push(toCandle(kline, true));
    }
    expect(expected.length, `${symbol} has minutes to check`).toBeGreaterThan(10);
    expect(stored, `${symbol} stored 1m candles`).toEqual(expected);
  }
}
