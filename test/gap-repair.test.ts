/**
 * Gap repair against the simulated exchange whose REST klines lag the stream (BINANCE.md 6.4), on a
 * clock the test moves: a minute fetched moments after its close is not taken as final; and a gap
 * that outlives its process is resumed from the store by the next one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { createRestClient } from '../src/binance/rest-client.js';
import { REST_KLINE_SETTLE_MS } from '../src/binance/rest-wire.js';
import { createSimulatedExchange, toCandle, type SimulatedExchange } from '../src/binance/simulator/index.js';
import { MINUTE_MS } from '../src/domain/intervals.js';
import type { Store } from '../src/ports/store.js';
import {
  createGapRepair,
  REPAIR_RETRY_DELAY_MS,
  SETTLE_RECHECK_MAX_MS,
  SETTLE_RECHECK_MIN_MS,
} from '../src/market/gap-repair.js';
import { expectEveryCandleStored } from './helpers/service-checks.js';
import { WAIT_MS } from './helpers/service-status.js';

const SYMBOL = 'BTCUSDT';
/** How far the exchange's REST klines lag its market: less than the settle time, as assumed. */
const LAG_MS = 8000;

/** The simulated exchange of SYMBOL on the test's clock. */
const startExchange = (now: () => number, restKlineLagMs?: number) =>
  createSimulatedExchange({
    clock: { now },
    symbols: [SYMBOL],
    includeUniverseExtras: false,
    seed: 7,
    restKlineLagMs,
  });

interface RepairSettings {
  readonly maxRetries?: number;
  readonly retryDelayMs?: number;
  readonly settleRecheckMaxMs?: number;
}
/** The test moves its clock by hand: a follow-up need not wait in real time for a settle. */
const HAND_MOVED_CLOCK: RepairSettings = { retryDelayMs: 200, settleRecheckMaxMs: 200 };
/** A failed request or repair is not tried again within the test. */
const NO_RETRY: RepairSettings = { maxRetries: 0, retryDelayMs: 3_600_000 };

describe('gap repair', () => {
  let exchange: SimulatedExchange | undefined;
  /** Gap repair into `store` from the exchange's REST, on the test's clock. */
  const repairOf = (store: Store, now: () => number, settings: RepairSettings = {}) =>
    createGapRepair({
      store,
      rest: createRestClient({ baseUrl: exchange!.restUrl, now, maxRetries: settings.maxRetries }),
      logger: pino({ level: 'silent' }),
      now,
      lookbackMs: 5 * MINUTE_MS,
      retryDelayMs: settings.retryDelayMs,
      settleRecheckMaxMs: settings.settleRecheckMaxMs,
    });
  afterEach(async () => {
    await exchange?.close();
  });

  it('fetches a minute asked for by name that REST does not list yet again, and settles once a halt, not a lag, explains it', async () => {
    const halted = Date.parse('2026-01-01T00:05:00Z');
    let time = Date.parse('2026-01-01T00:20:30Z'); // halted since 00:05; the 00:20 minute asked for
    const now = () => time;
    exchange = await startExchange(now);
    exchange.faults.halt(SYMBOL, halted, Date.parse('2026-01-02T00:00:00Z'));
    const store = new SqliteStore({ path: ':memory:', now });
    const repair = repairOf(store, now, HAND_MOVED_CLOCK);
    try {
      const before = exchange.stats().restRequests;
      const minute = time - (time % MINUTE_MS);
      repair.request(SYMBOL, halted - 2 * MINUTE_MS, minute);
      await repair.idle();
      // Not listed while a lag may explain it: owed, and asked for again.
      expect(await store.listRepairGaps()).toEqual([{ symbol: SYMBOL, since: halted }]);
      // Once the minute has ended and settled, the follow-up finds it still missing: a halt.
      time = minute + MINUTE_MS + REST_KLINE_SETTLE_MS + 1000;
      await vi.waitFor(async () => expect(await store.listRepairGaps()).toEqual([]), { timeout: WAIT_MS });
      await repair.idle();
      expect(exchange.stats().restRequests - before).toBe(2);
      expect(repair.status()).toMatchObject({ repairedRanges: 2, failures: 0 });
    } finally {
      repair.stop();
      await repair.idle();
      await store.close();
    }
  });

  it('stores a minute REST serves moments after its close as forming, then settles it with a later fetch', async () => {
    const closeOfLast = Date.parse('2026-01-01T00:10:00Z');
    let time = closeOfLast + 3000; // the 00:09 minute closed 3 s ago: REST still shows it incomplete
    const now = () => time;
    exchange = await startExchange(now, LAG_MS);
    const store = new SqliteStore({ path: ':memory:', now });
    const repair = repairOf(store, now, HAND_MOVED_CLOCK);
    try {
      const from = closeOfLast - 5 * MINUTE_MS;
      const stored = () => store.listCandles({ symbol: SYMBOL, resolution: '1m', from, to: closeOfLast - 1 });
      repair.request(SYMBOL, from);
      await repair.idle();
      const last = (await stored()).at(-1);
      expect(last).toMatchObject({ openTime: closeOfLast - MINUTE_MS, closed: false });

      time = closeOfLast + REST_KLINE_SETTLE_MS + LAG_MS; // settled, and REST has caught up
      // The follow-up fetch (however many it took while the clock stood still) settles the minute.
      await vi.waitFor(
        () => expectEveryCandleStored(store, exchange!, [SYMBOL], from, closeOfLast - MINUTE_MS),
        { timeout: WAIT_MS },
      );
      expect(repair.status().repairedRanges).toBeGreaterThanOrEqual(2);
    } finally {
      repair.stop();
      await repair.idle();
      await store.close();
    }
  });

  it('fetches a minute that had just ended again once it has settled, not once the minute in progress has too', async () => {
    const closeOfLast = Date.parse('2026-01-01T00:10:00Z');
    // 00:09 ended 9 s ago, not final on REST yet; 00:10 is in progress, and REST (8 s behind) has it.
    let time = closeOfLast + 9000;
    const now = () => time;
    exchange = await startExchange(now, LAG_MS);
    const store = new SqliteStore({ path: ':memory:', now });
    // The follow-up's timer is the production one (not capped for the test), on a fake clock.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const repair = repairOf(store, now);
    try {
      const from = closeOfLast - 5 * MINUTE_MS;
      repair.request(SYMBOL, from);
      await repair.idle();
      const fetched = await store.listCandles({ symbol: SYMBOL, resolution: '1m', from, to: closeOfLast });
      expect(fetched.slice(-2).map((candle) => candle.closed)).toEqual([false, false]);
      // 00:09 settles 10 s after its close: its follow-up is due then, whatever 00:10 still does.
      time = closeOfLast + REST_KLINE_SETTLE_MS + LAG_MS;
      vi.advanceTimersByTime(REST_KLINE_SETTLE_MS - 9000 + SETTLE_RECHECK_MIN_MS);
      await repair.idle();
      await expectEveryCandleStored(store, exchange, [SYMBOL], from, closeOfLast - MINUTE_MS);
    } finally {
      vi.useRealTimers();
      repair.stop();
      await repair.idle();
      await store.close();
    }
  });

  it('waits for the minute in progress to settle before fetching it again, not the retry delay', async () => {
    const forming = Date.parse('2026-01-01T00:10:00Z');
    let time = forming + 20_000; // 00:10 is in progress: final on REST from 00:11:10
    const now = () => time;
    exchange = await startExchange(now);
    const store = new SqliteStore({ path: ':memory:', now });
    // The production waits, on a fake clock.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const repair = repairOf(store, now);
    try {
      const from = forming - 5 * MINUTE_MS;
      repair.request(SYMBOL, from);
      await repair.idle();
      const requests = exchange.stats().restRequests;
      // After the retry delay the minute is still forming: fetching it then would gain nothing.
      time += REPAIR_RETRY_DELAY_MS;
      vi.advanceTimersByTime(REPAIR_RETRY_DELAY_MS);
      await repair.idle();
      expect(exchange.stats().restRequests).toBe(requests);
      time = forming + MINUTE_MS + REST_KLINE_SETTLE_MS + SETTLE_RECHECK_MIN_MS;
      vi.advanceTimersByTime(SETTLE_RECHECK_MAX_MS);
      await repair.idle();
      await expectEveryCandleStored(store, exchange, [SYMBOL], from, forming);
    } finally {
      vi.useRealTimers();
      repair.stop();
      await repair.idle();
      await store.close();
    }
  });

  it('fetches the minute in progress again once it has ended and settled, for a stream that never closes it', async () => {
    // A symbol whose stream is not live (not subscribed yet, or no longer tracked): only REST can
    // close the minute that was forming when it was repaired.
    let time = Date.parse('2026-01-01T00:10:20Z');
    const now = () => time;
    exchange = await startExchange(now);
    const store = new SqliteStore({ path: ':memory:', now });
    const repair = repairOf(store, now, HAND_MOVED_CLOCK);
    try {
      const from = Date.parse('2026-01-01T00:05:00Z');
      const forming = Date.parse('2026-01-01T00:10:00Z');
      repair.request(SYMBOL, from);
      await repair.idle();
      const [stored] = await store.listCandles({
        symbol: SYMBOL,
        resolution: '1m',
        from: forming,
        to: forming,
      });
      expect(stored).toMatchObject({ closed: false });

      time = forming + MINUTE_MS + REST_KLINE_SETTLE_MS; // ended and settled; 00:11 is in progress
      await vi.waitFor(() => expectEveryCandleStored(store, exchange!, [SYMBOL], from, forming), {
        timeout: WAIT_MS,
      });
      // Only the unfinished minute was fetched again: nothing of 00:11, which is the stream's.
      const after = await store.listCandles({
        symbol: SYMBOL,
        resolution: '1m',
        from: forming + MINUTE_MS,
        to: time,
      });
      expect(after).toEqual([]);
      expect(await store.listRepairGaps()).toEqual([]);
    } finally {
      repair.stop();
      await repair.idle();
      await store.close();
    }
  });

  it('keeps a gap it could not repair in the store, and the next process repairs it from there', async () => {
    const time = Date.parse('2026-01-01T01:00:30Z');
    const now = () => time;
    exchange = await startExchange(now);
    const dir = mkdtempSync(join(tmpdir(), 'gap-repair-'));
    const path = join(dir, 'store.db');
    const gapFrom = Date.parse('2026-01-01T00:30:00Z');
    const lastStored = Date.parse('2026-01-01T00:59:00Z');
    const startRepair = (store: SqliteStore) => repairOf(store, now, NO_RETRY);
    try {
      // The first process: REST is down for its whole life, while live candles after the gap arrive.
      const first = new SqliteStore({ path, now });
      const failing = startRepair(first);
      exchange.faults.restErrors({ status: 503, count: 1000 });
      failing.request(SYMBOL, gapFrom);
      await failing.idle();
      const live = toCandle(exchange.market.trueKline(SYMBOL, lastStored)!, true);
      await first.upsertCandles([{ ...live, eventTime: lastStored + MINUTE_MS }]);
      expect(failing.status().failures).toBe(1);
      failing.stop();
      await failing.idle();
      await first.close();

      // The next process finds the gap in the store; the last stored candle alone would hide it.
      exchange.faults.reset();
      const second = new SqliteStore({ path, now });
      expect(await second.listRepairGaps()).toEqual([{ symbol: SYMBOL, since: gapFrom }]);
      const resumed = startRepair(second);
      // What the live link does for each symbol it starts tracking that has a recorded gap.
      for (const gap of await second.listRepairGaps()) resumed.request(gap.symbol, gap.since);
      await resumed.idle();
      await expectEveryCandleStored(second, exchange, [SYMBOL], gapFrom, lastStored);
      // The gap is settled; the minute in progress stays owed until it has ended and settled.
      expect(await second.listRepairGaps()).toEqual([
        { symbol: SYMBOL, since: Date.parse('2026-01-01T01:00:00Z') },
      ]);
      resumed.stop();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps recorded a gap reported while an earlier repair of its symbol was running', async () => {
    const time = Date.parse('2026-01-01T01:00:30Z');
    const now = () => time;
    exchange = await startExchange(now);
    const store = new SqliteStore({ path: ':memory:', now });
    const repair = repairOf(store, now, NO_RETRY);
    try {
      const first = Date.parse('2026-01-01T00:30:00Z');
      const second = Date.parse('2026-01-01T00:50:00Z');
      exchange.faults.restDelay(300);
      const before = exchange.stats().restRequests;
      repair.request(SYMBOL, first);
      // Its one page is asked for, and on its way back (300 ms later) when the errors begin.
      await vi.waitFor(() => expect(exchange!.stats().restRequests).toBeGreaterThan(before), {
        timeout: WAIT_MS,
      });
      exchange.faults.restErrors({ status: 503, count: 1000 }); // the next repair fails
      repair.request(SYMBOL, second);
      await repair.idle();
      expect(repair.status()).toMatchObject({ repairedRanges: 1, failures: 1 });
      // The first repair's completion must not take the second gap's record with it.
      expect(await store.listRepairGaps()).toEqual([{ symbol: SYMBOL, since: second }]);
    } finally {
      repair.stop();
      await repair.idle();
      await store.close();
    }
  });
});
