/**
 * The live link against the simulated exchange (issue 3): whatever the exchange does, every closed
 * 1m candle stored for every symbol equals the exchange's. Time runs at SPEED (a minute a second).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { MINUTE_MS } from '../src/domain/intervals.js';
import { splitSymbol } from '../src/domain/symbol.js';
import { UNIVERSE_CHOSEN_SETTING } from '../src/market/universe.js';
import { expectEveryCandleStored } from './helpers/service-checks.js';
import {
  CLOCK_START,
  SPEED,
  SYMBOLS,
  expectStoredEqualsExchange,
  startHarness,
  type Harness,
} from './helpers/live-harness.js';
import { WAIT_MS } from './helpers/service-status.js';

/**
 * Stores `symbols` as trading, each active when `isActive` says so: by default none, as an import
 * or a backfill run before the first start leaves them.
 */
const storeSymbols = (
  store: SqliteStore,
  symbols: readonly string[],
  isActive: (symbol: string) => boolean = () => false,
) =>
  store.insertSymbolsIfMissing(
    symbols.map((symbol) => ({
      symbol,
      ...splitSymbol(symbol),
      status: 'TRADING',
      isActive: isActive(symbol),
    })),
  );

describe('live link against the simulated exchange', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
  });

  /** Runs, lets repair settle, stops, then checks up to a few minutes before the stop. */
  async function finish(h: Harness, settleMs = 4 * MINUTE_MS): Promise<void> {
    await h.pass(settleMs);
    await h.parts.link.stop();
    await expectStoredEqualsExchange(h, h.now() - 2 * MINUTE_MS);
  }

  it('backfills the lookback at start and streams every minute after it', async () => {
    harness = await startHarness();
    await harness.pass(6 * MINUTE_MS);
    const status = harness.parts.link.status();
    expect(status.binance.state).toBe('connected');
    expect(status.binance.streams).toBe(4);
    expect(status.repair.repairedRanges).toBeGreaterThanOrEqual(3);
    await finish(harness);
  });

  it("fetches a new symbol's whole history when BACKFILL_LOOKBACK reaches back before 1970", async () => {
    // A listing 30 minutes before the start; the lookback (100 years) would start before 1970,
    // which the REST client refuses: every repair failed, for ever.
    const startMinute = CLOCK_START - (CLOCK_START % MINUTE_MS);
    const listedAt = startMinute - 30 * MINUTE_MS;
    harness = await startHarness({
      exchange: { listedAt },
      link: { lookbackMs: 36_500 * 24 * 60 * MINUTE_MS },
    });
    await harness.pass(3 * MINUTE_MS);
    expect(harness.parts.link.status().repair).toMatchObject({ failures: 0, lastError: undefined });
    await harness.parts.link.stop();
    await expectEveryCandleStored(
      harness.store,
      harness.exchange,
      SYMBOLS,
      listedAt,
      startMinute - MINUTE_MS,
    );
  });

  it('repairs the candles missed while the connection was dropped abruptly', async () => {
    harness = await startHarness();
    await harness.pass(3 * MINUTE_MS);
    harness.exchange.faults.rejectConnections(3);
    harness.exchange.faults.dropConnections();
    await harness.pass(4 * MINUTE_MS);
    expect(harness.parts.link.status().binance.reconnects).toBeGreaterThanOrEqual(1);
    await finish(harness);
  });

  it('repairs the minutes missed while the exchange refused every connection from the start', async () => {
    harness = await startHarness();
    // Set before the link's first upgrade reaches the exchange (that needs a network round trip).
    harness.exchange.faults.rejectConnections(Number.MAX_SAFE_INTEGER);
    await harness.pass(4 * MINUTE_MS);
    expect(harness.parts.link.status().binance.state).not.toBe('connected');
    // REST answers slowly from now on, so the live stream has stored the new minute before each
    // symbol's repair reads where to start: only an explicit gap start covers the outage.
    harness.exchange.faults.restDelay(100);
    harness.exchange.faults.rejectConnections(0);
    await vi.waitFor(() => expect(harness!.parts.link.status().binance.state).toBe('connected'), {
      timeout: 20_000,
    });
    await finish(harness, 5 * MINUTE_MS);
  });

  it('reconnects after a clean close and after a stall with the socket open', async () => {
    harness = await startHarness();
    await harness.pass(3 * MINUTE_MS);
    harness.exchange.faults.closeConnections(1001);
    await harness.pass(3 * MINUTE_MS);
    harness.exchange.faults.stall(5 * MINUTE_MS);
    await harness.pass(6 * MINUTE_MS);
    expect(harness.parts.link.status().binance.reconnects).toBeGreaterThanOrEqual(2);
    await finish(harness);
  });

  it('replaces the connection on serverShutdown and at its lifetime, without losing a minute', async () => {
    harness = await startHarness({ link: { connectionMaxAgeMs: 2500 } });
    await harness.pass(3 * MINUTE_MS);
    harness.exchange.faults.serverShutdown({ closeAfterMs: 30_000 });
    await harness.pass(6 * MINUTE_MS);
    expect(harness.parts.link.status().binance.replacements).toBeGreaterThanOrEqual(2);
    await finish(harness);
  });

  it('stores exact candles through duplicated, reordered and malformed frames', async () => {
    harness = await startHarness();
    harness.exchange.faults.duplicateFrames(0.2);
    harness.exchange.faults.reorderFrames(0.2);
    harness.exchange.faults.malformedFrames(0.1);
    await harness.pass(6 * MINUTE_MS);
    harness.exchange.faults.reset();
    expect(harness.parts.link.status().binance.malformed).toBeGreaterThan(0);
    await finish(harness);
  });

  it('waits out 429 and 418 during repair and still repairs everything', async () => {
    harness = await startHarness();
    await harness.pass(2 * MINUTE_MS);
    harness.exchange.faults.restErrors({ status: 429, count: 2, retryAfterSeconds: 1 });
    harness.exchange.faults.restErrors({ status: 418, count: 1, retryAfterSeconds: 1 });
    harness.exchange.faults.restErrors({ status: 503, count: 2 });
    harness.exchange.faults.dropConnections();
    await harness.pass(5 * MINUTE_MS);
    await finish(harness, 5 * MINUTE_MS);
    expect(harness.parts.rest.status().rateLimited).toBeGreaterThanOrEqual(1);
  });

  it('leaves a halted minute missing and does not fetch it forever', async () => {
    harness = await startHarness();
    const haltFrom = Math.floor(harness.now() / MINUTE_MS) * MINUTE_MS + 2 * MINUTE_MS;
    harness.exchange.faults.halt('ETHUSDT', haltFrom, haltFrom + 2 * MINUTE_MS);
    await harness.pass(4 * MINUTE_MS);
    harness.exchange.faults.dropConnections();
    await harness.pass(4 * MINUTE_MS);
    const requestsAfterRepair = harness.exchange.stats().restRequests;
    await harness.pass(3 * MINUTE_MS);
    expect(harness.exchange.stats().restRequests - requestsAfterRepair).toBeLessThan(3);
    await finish(harness);
  });

  it('spreads streams over several connections when they exceed the per-connection limit', async () => {
    harness = await startHarness({
      exchange: { maxStreamsPerConnection: 2 },
      link: { maxStreamsPerConnection: 2 },
    });
    await harness.pass(3 * MINUTE_MS);
    const connections = harness.exchange.connections();
    expect(connections).toHaveLength(2);
    expect(connections.flatMap((c) => c.streams).sort()).toEqual([
      '!miniTicker@arr',
      'btcusdt@kline_1m',
      'ethusdt@kline_1m',
      'solusdt@kline_1m',
    ]);
    await finish(harness);
  });

  it('follows symbols activated and deactivated in the store, without a restart', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await storeSymbols(store, ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'], (symbol) => symbol !== 'SOLUSDT');
    harness = await startHarness({ store, link: { symbols: undefined } });
    await harness.pass(2 * MINUTE_MS);
    expect(streamsOf(harness)).toEqual(['!miniTicker@arr', 'btcusdt@kline_1m', 'ethusdt@kline_1m']);
    await store.setSymbolActive('SOLUSDT', true);
    await store.setSymbolActive('ETHUSDT', false);
    await harness.pass(2 * MINUTE_MS);
    expect(streamsOf(harness)).toEqual(['!miniTicker@arr', 'btcusdt@kline_1m', 'solusdt@kline_1m']);
    expect(harness.parts.link.tracked()).toEqual(['BTCUSDT', 'SOLUSDT']);
    // SOLUSDT was repaired from the lookback when it was activated, and streams since.
    await harness.pass(3 * MINUTE_MS);
    await harness.parts.link.stop();
    const until = harness.now() - 2 * MINUTE_MS;
    const sol = await store.listCandles({ symbol: 'SOLUSDT', resolution: '1m', from: 0, to: until });
    expect(sol.length).toBeGreaterThanOrEqual(20);
    // ETHUSDT keeps no forming minute: the one in progress when it was deactivated was fetched
    // again once it had ended, and every stored minute equals the exchange's.
    const eth = await store.listCandles({ symbol: 'ETHUSDT', resolution: '1m', from: 0, to: harness.now() });
    expect(eth.filter((candle) => !candle.closed)).toEqual([]);
    await expectEveryCandleStored(
      store,
      harness.exchange,
      ['ETHUSDT'],
      eth[0]!.openTime,
      eth.at(-1)!.openTime,
    );
  });

  it('closes the minute a symbol was forming when deactivated, though REST did not list it yet', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await storeSymbols(store, ['BTCUSDT', 'ETHUSDT'], () => true);
    // REST (the Database source) 8 s behind the stream: within REST_KLINE_SETTLE_MS, as BINANCE.md
    // 6.4 allows.
    const lagMs = 8000;
    harness = await startHarness({
      store,
      // Follow-ups a simulated minute apart: the harness's own 200 ms (12 simulated seconds) would
      // spend all MAX_SETTLE_FOLLOW_UPS before the minute has ended.
      link: { symbols: undefined, settleRecheckMaxMs: MINUTE_MS / SPEED },
      exchange: { restKlineLagMs: lagMs },
    });
    await harness.pass(2 * MINUTE_MS);
    // Deactivated early in a minute: the stream has stored it forming, REST does not list it yet.
    while (harness.now() % MINUTE_MS < 1000 || harness.now() % MINUTE_MS > lagMs / 2) await sleep(2);
    const minute = harness.now() - (harness.now() % MINUTE_MS);
    await store.setSymbolActive('ETHUSDT', false);
    await harness.parts.link.refreshSymbols();
    await harness.pass(4 * MINUTE_MS);
    await harness.parts.link.stop();
    const eth = await store.listCandles({ symbol: 'ETHUSDT', resolution: '1m', from: 0, to: harness.now() });
    expect(eth.filter((candle) => !candle.closed)).toEqual([]);
    expect(eth.at(-1)?.openTime).toBe(minute);
    await expectEveryCandleStored(store, harness.exchange, ['ETHUSDT'], eth[0]!.openTime, minute);
    expect(await store.listRepairGaps()).toEqual([]);
  });

  it('tracks the TRACK_TOP universe on a first start after an import stored symbols, then keeps what is stored', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await storeSymbols(store, ['BTCUSDT', 'DOGEUSDT']); // DOGEUSDT: imported, not on this exchange
    harness = await startHarness({ store, link: { symbols: undefined } });
    // The imported symbols chose no universe: the top pairs are tracked, BTCUSDT among them.
    await vi.waitFor(() => expect(harness!.parts.link.tracked()).toEqual([...SYMBOLS].sort()), {
      timeout: WAIT_MS,
    });
    expect((await store.getSymbol('DOGEUSDT'))?.isActive).toBe(false);
    expect(await store.getSetting(UNIVERSE_CHOSEN_SETTING)).toBeDefined();
    await harness.stop();
    // Once chosen, the stored universe is kept as it is, even with every symbol deactivated.
    for (const symbol of SYMBOLS) await store.setSymbolActive(symbol, false);
    harness = await startHarness({ store, link: { symbols: undefined } });
    await harness.pass(2 * MINUTE_MS);
    expect(harness.parts.link.tracked()).toEqual([]);
    expect((await store.listSymbols({ active: true })).length).toBe(0);
  });

  it('keeps every symbol deactivated in a store from before the chosen-universe setting that was ingested live', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await storeSymbols(store, SYMBOLS);
    // Samples are only written by live ingestion: these symbols were tracked, then deactivated.
    await store.insertPriceSamples([{ symbol: 'ETHUSDT', price: '1', timestamp: CLOCK_START - MINUTE_MS }]);
    harness = await startHarness({ store, link: { symbols: undefined } });
    await vi.waitFor(async () => expect(await store.getSetting(UNIVERSE_CHOSEN_SETTING)).toBeDefined(), {
      timeout: WAIT_MS,
    });
    await harness.pass(2 * MINUTE_MS);
    expect(harness.parts.link.tracked()).toEqual([]);
    expect((await store.listSymbols({ active: true })).length).toBe(0);
  });

  it('tracks every symbol SYMBOLS names on a first start, also one an import stored inactive', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await storeSymbols(store, ['ETHUSDT']);
    harness = await startHarness({ store, link: { symbols: ['BTCUSDT', 'ETHUSDT'] } });
    await vi.waitFor(() => expect(harness!.parts.link.tracked()).toEqual(['BTCUSDT', 'ETHUSDT']), {
      timeout: WAIT_MS,
    });
    expect((await store.getSymbol('ETHUSDT'))?.isActive).toBe(true);
  });

  it('applies the newest activation change when a slow read of the symbols ends after a later one', async () => {
    const real = new SqliteStore({ path: ':memory:' });
    await storeSymbols(real, ['BTCUSDT', 'ETHUSDT'], () => true);
    let slowNextRead = false;
    // The store as the link sees it: one read of the symbols can be made to answer late.
    const store = new Proxy(real, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        // Called on the real store: its private fields are not the proxy's.
        if (property !== 'listSymbols')
          return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
        return async (...args: Parameters<SqliteStore['listSymbols']>) => {
          const found = await target.listSymbols(...args);
          if (slowNextRead) {
            slowNextRead = false;
            await sleep(500);
          }
          return found;
        };
      },
    });
    harness = await startHarness({ store, link: { symbols: undefined, pollIntervalMs: 60_000 } });
    await vi.waitFor(() => expect(harness!.parts.link.tracked()).toEqual(['BTCUSDT', 'ETHUSDT']), {
      timeout: WAIT_MS,
    });

    slowNextRead = true;
    const slow = harness.parts.link.refreshSymbols(); // reads both active, answers late
    await real.setSymbolActive('ETHUSDT', false);
    const later = harness.parts.link.refreshSymbols(); // an admin's change, noticed meanwhile
    await Promise.all([slow, later]);
    expect(harness.parts.link.tracked()).toEqual(['BTCUSDT']);
  });

  it('slows its outgoing pace after a 1008 close', async () => {
    harness = await startHarness();
    await harness.pass(2 * MINUTE_MS);
    const before = harness.parts.link.status().binance.outgoingSpacingMs;
    harness.exchange.faults.closeConnections(1008);
    await harness.pass(3 * MINUTE_MS);
    expect(harness.parts.link.status().binance.outgoingSpacingMs).toBe(before * 2);
    await finish(harness);
  });

  it('reports a symbol the exchange does not know instead of retrying it in a loop', async () => {
    harness = await startHarness({ link: { symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'NOPEUSDT'] } });
    await harness.pass(3 * MINUTE_MS);
    const requests = harness.exchange.stats().restRequests;
    await harness.pass(3 * MINUTE_MS);
    const status = harness.parts.link.status();
    expect(status.repair.unknownSymbols).toEqual(['NOPEUSDT']);
    expect(harness.exchange.stats().restRequests - requests).toBeLessThan(3);
    expect(status.binance.state).toBe('connected');
    await finish(harness);
  });

  it('flags a symbol stale when its updates stop while others flow', async () => {
    harness = await startHarness();
    await harness.pass(2 * MINUTE_MS);
    expect(harness.parts.link.status().symbols.stale).toBe(0);
    const now = harness.now();
    harness.exchange.faults.halt('SOLUSDT', now, now + 10 * MINUTE_MS);
    await harness.pass(3 * MINUTE_MS);
    expect(harness.parts.link.status().symbols).toMatchObject({
      tracked: 3,
      fresh: 2,
      stale: 1,
      staleSymbols: ['SOLUSDT'],
    });
  });

  it('repairs the gaps an earlier process recorded, behind later candles, at start or when the symbol is activated', async () => {
    // What an earlier process left for BTCUSDT (tracked) and ETHUSDT (since deactivated): a gap it
    // could not repair, and a later minute it stored live (still forming), so the last stored
    // candle alone would start the repair after the gap.
    const store = new SqliteStore({ path: ':memory:' });
    const gapFrom = CLOCK_START - 30_000 - 90 * MINUTE_MS; // minute-aligned
    const since = gapFrom + 15_000; // the last frame before the loss, mid-minute
    const lastStored = CLOCK_START - 30_000 - 30 * MINUTE_MS;
    await storeSymbols(store, SYMBOLS, (symbol) => symbol !== 'ETHUSDT');
    const forming = (symbol: string) => ({
      symbol,
      interval: '1m',
      openTime: lastStored,
      closeTime: lastStored + MINUTE_MS - 1,
      ...{ open: '1', high: '1', low: '1', close: '1', volume: '0', quoteVolume: '0', trades: 0 },
      ...{ takerBuyVolume: '0', takerBuyQuoteVolume: '0', closed: false, eventTime: lastStored + 1 },
    });
    await store.upsertCandles([forming('BTCUSDT'), forming('ETHUSDT')]);
    await store.recordRepairGaps([
      { symbol: 'BTCUSDT', since },
      { symbol: 'ETHUSDT', since },
    ]);
    harness = await startHarness({ store });
    const h = harness;
    const expectRepaired = async (symbol: string) => {
      await vi.waitFor(() => expectEveryCandleStored(store, h.exchange, [symbol], gapFrom, lastStored), {
        timeout: 5000,
      });
      const count = await store.countCandles({ symbol, resolution: '1m', from: gapFrom, to: lastStored });
      expect(count).toBeGreaterThan(50);
    };
    await expectRepaired('BTCUSDT');
    // The inactive symbol is not repaired; its record waits for it.
    await expect
      .poll(() => store.listRepairGaps(), { timeout: 5000 })
      .toEqual([{ symbol: 'ETHUSDT', since }]);
    await store.setSymbolActive('ETHUSDT', true); // picked up by the link's poll
    await expectRepaired('ETHUSDT');
    await expect.poll(() => store.listRepairGaps(), { timeout: 5000 }).toEqual([]);
  });

  it('takes each stored symbol’s status from exchangeInfo at start and keeps it current', async () => {
    // SYMBOLS names a pair the exchange lists in BREAK: it is stored as TRADING until exchangeInfo says.
    harness = await startHarness({
      exchange: { includeUniverseExtras: true },
      link: { symbols: [...SYMBOLS, 'PAUSEDUSDT'], statusRefreshMs: 200 },
    });
    const store = harness.store;
    const statusOf = async (symbol: string) => (await store.getSymbol(symbol))?.status;
    await expect.poll(() => statusOf('PAUSEDUSDT'), { timeout: 5000 }).toBe('BREAK');
    expect(await statusOf('BTCUSDT')).toBe('TRADING');
    await store.setSymbolStatus('PAUSEDUSDT', 'TRADING'); // stale: as if the exchange's had changed
    await expect.poll(() => statusOf('PAUSEDUSDT'), { timeout: 5000 }).toBe('BREAK');
  });
});

function streamsOf(h: Harness): string[] {
  return h.exchange
    .connections()
    .flatMap((c) => c.streams)
    .sort();
}
