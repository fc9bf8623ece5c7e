/**
 * Backfill and seed-symbols against the real simulated exchange (real clock, ranges in the past so
 * every candle is closed) and a real SQLite store; the CLIs as child processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { createRestClient, type RestClient } from '../src/binance/rest-client.js';
import {
  DEFAULT_SYMBOLS,
  UNIVERSE_EXTRA_SYMBOLS,
  createSimulatedExchange,
  toCandle,
  type SimulatedExchange,
} from '../src/binance/simulator/index.js';
import { compareDecimal, parseDecimal } from '../src/domain/decimal.js';
import { HOUR_MS, MINUTE_MS } from '../src/domain/intervals.js';
import { backfill, type BackfillProgress } from '../src/market/backfill.js';
import type { Store } from '../src/ports/store.js';
import { withWriteFaults } from './helpers/faulty-store.js';
import { runCli, runInTerminal } from './helpers/run-cli.js';

/** One klines page (BINANCE.md 3.2): ranges longer than this take several requests. */
const PAGE_MINUTES = 1000;
const LONG_RANGE_MINUTES = 1500;
const SHORT_RANGE_MINUTES = 180;

/** `minutes` whole minutes ending an hour ago: long closed, well inside the market's 30 days. */
function pastRange(minutes: number): { from: number; to: number } {
  const to = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - HOUR_MS;
  return { from: to - (minutes - 1) * MINUTE_MS, to };
}

/** The store holds exactly the exchange's 1m candles of [from, to]: none missing, none invented. */
async function expectExact(
  store: Store,
  exchange: SimulatedExchange,
  symbol: string,
  range: { from: number; to: number },
): Promise<number> {
  const expected = [];
  for (let openTime = range.from; openTime <= range.to; openTime += MINUTE_MS) {
    const kline = exchange.market.trueKline(symbol, openTime);
    if (kline) expected.push(toCandle(kline));
  }
  const stored = await store.listCandles({ symbol, resolution: '1m', ...range });
  expect(stored).toEqual(expected);
  return stored.length;
}

describe('backfill', () => {
  let exchange: SimulatedExchange;
  let store: SqliteStore;
  let rest: RestClient;

  beforeEach(async () => {
    exchange = await createSimulatedExchange({ symbols: ['BTCUSDT', 'ETHUSDT'], seed: 7 });
    store = new SqliteStore({ path: ':memory:' });
    rest = createRestClient({ baseUrl: exchange.restUrl });
  });

  afterEach(async () => {
    await store.close();
    await exchange.close();
  });

  it('stores exactly the exchange candles of every symbol, paging through ranges over 1000 minutes', async () => {
    const range = pastRange(LONG_RANGE_MINUTES);
    const results = await backfill({ store, rest, symbols: ['BTCUSDT', 'ethusdt'], ...range });

    expect(results.map((r) => [r.symbol, r.status, r.candles, r.resumed])).toEqual([
      ['BTCUSDT', 'complete', LONG_RANGE_MINUTES, false],
      ['ETHUSDT', 'complete', LONG_RANGE_MINUTES, false],
    ]);
    expect(results.every((r) => r.pages === Math.ceil(LONG_RANGE_MINUTES / PAGE_MINUTES))).toBe(true);
    expect(await expectExact(store, exchange, 'BTCUSDT', range)).toBe(LONG_RANGE_MINUTES);
    expect(await expectExact(store, exchange, 'ETHUSDT', range)).toBe(LONG_RANGE_MINUTES);
    // Readable through the API, but not tracked live.
    expect(await store.getSymbol('BTCUSDT')).toMatchObject({ baseAsset: 'BTC', isActive: false });
  });

  it('resumes an aborted backfill a minute before the last stored candle instead of from the start', async () => {
    const range = pastRange(LONG_RANGE_MINUTES);
    const controller = new AbortController();
    const first = await backfill({
      store,
      rest,
      symbols: ['BTCUSDT', 'ETHUSDT'],
      ...range,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.type === 'page') controller.abort();
      },
    });
    expect(first.map((r) => [r.status, r.candles])).toEqual([
      ['aborted', PAGE_MINUTES],
      ['aborted', 0],
    ]);
    const lastStored = range.from + (PAGE_MINUTES - 1) * MINUTE_MS;
    expect(await store.candleSpan('BTCUSDT')).toEqual({
      firstOpenTime: range.from,
      lastOpenTime: lastStored,
    });

    const requestsBefore = exchange.stats().restRequests;
    const [second] = await backfill({ store, rest, symbols: ['BTCUSDT'], ...range });

    // The full range takes two pages; resuming takes one, starting a minute before the last stored
    // candle (which may have been stored forming; the one before it, not yet final on REST).
    expect(exchange.stats().restRequests - requestsBefore).toBe(1);
    expect(second).toMatchObject({ status: 'complete', resumed: true, fetchedFrom: lastStored - MINUTE_MS });
    expect(second?.candles).toBe(LONG_RANGE_MINUTES - PAGE_MINUTES + 2);
    expect(await expectExact(store, exchange, 'BTCUSDT', range)).toBe(LONG_RANGE_MINUTES);
  });

  it('reports a store failure, keeps the pages stored before it, and resumes after them', async () => {
    const range = pastRange(LONG_RANGE_MINUTES);
    const faulty = withWriteFaults(store);
    const first = await backfill({
      store: faulty.store,
      rest,
      symbols: ['BTCUSDT'],
      ...range,
      onProgress: (event) => {
        if (event.type === 'page') faulty.failing = true;
      },
    });
    expect(first[0]).toMatchObject({
      status: 'failed',
      candles: PAGE_MINUTES,
      error: 'database unreachable',
    });

    faulty.failing = false;
    const requestsBefore = exchange.stats().restRequests;
    const [second] = await backfill({ store: faulty.store, rest, symbols: ['BTCUSDT'], ...range });
    expect(exchange.stats().restRequests - requestsBefore).toBe(1);
    expect(second).toMatchObject({ status: 'complete', resumed: true });
    expect(await expectExact(store, exchange, 'BTCUSDT', range)).toBe(LONG_RANGE_MINUTES);
  });

  it('fetches the whole range again when the stored series has a hole of an hour or more', async () => {
    const range = pastRange(SHORT_RANGE_MINUTES);
    const early = { from: range.from, to: range.from + 59 * MINUTE_MS };
    const late = { from: range.to - 29 * MINUTE_MS, to: range.to };
    await backfill({ store, rest, symbols: ['BTCUSDT'], ...early });
    await backfill({ store, rest, symbols: ['BTCUSDT'], ...late });

    const [result] = await backfill({ store, rest, symbols: ['BTCUSDT'], ...range });
    expect(result).toMatchObject({ status: 'complete', resumed: false, fetchedFrom: range.from });
    expect(await expectExact(store, exchange, 'BTCUSDT', range)).toBe(SHORT_RANGE_MINUTES);
  });

  it('records the gap a range past the stored series would hide from the restart repair', async () => {
    const { from, to } = pastRange(SHORT_RANGE_MINUTES);
    const third = (SHORT_RANGE_MINUTES / 3) * MINUTE_MS;
    await backfill({ store, rest, symbols: ['BTCUSDT'], from, to: from + third - MINUTE_MS });
    // Continuing the stored series leaves nothing to repair.
    await backfill({
      store,
      rest,
      symbols: ['BTCUSDT'],
      from: from + third,
      to: from + 2 * third - MINUTE_MS,
    });
    expect(await store.listRepairGaps()).toEqual([]);
    // After a hole, the restart's repair (from the last stored candle) would skip it: recorded.
    await backfill({ store, rest, symbols: ['BTCUSDT'], from: from + 2 * third + 10 * MINUTE_MS, to });
    expect(await store.listRepairGaps()).toEqual([
      { symbol: 'BTCUSDT', since: from + 2 * third - 2 * MINUTE_MS },
    ]);
  });

  it('corrects a stored closed candle to the exchange’s only with --replace, fetching the whole range', async () => {
    const range = pastRange(SHORT_RANGE_MINUTES);
    await backfill({ store, rest, symbols: ['BTCUSDT'], ...range });
    // History imported from a bad archive: one minute's volume is wrong.
    const [wrong] = await store.listCandles({
      symbol: 'BTCUSDT',
      resolution: '1m',
      from: range.from + 7 * MINUTE_MS,
      to: range.from + 7 * MINUTE_MS,
    });
    await store.replaceCandles([{ ...wrong!, volume: '123456', eventTime: 0 }]);
    const [plain] = await backfill({ store, rest, symbols: ['BTCUSDT'], ...range });
    expect(plain).toMatchObject({ status: 'complete', resumed: true });
    expect(plain?.changed).toBeUndefined();
    const [replaced] = await backfill({ store, rest, symbols: ['BTCUSDT'], ...range, replace: true });
    expect(replaced).toMatchObject({
      status: 'complete',
      resumed: false,
      candles: SHORT_RANGE_MINUTES,
      changed: 1,
    });
    expect(await expectExact(store, exchange, 'BTCUSDT', range)).toBe(SHORT_RANGE_MINUTES);
  });

  it('fetches a range before the stored data in full', async () => {
    const range = pastRange(SHORT_RANGE_MINUTES);
    const later = { from: range.to + MINUTE_MS, to: range.to + 30 * MINUTE_MS };
    await backfill({ store, rest, symbols: ['BTCUSDT'], ...later });

    const [result] = await backfill({ store, rest, symbols: ['BTCUSDT'], ...range });
    expect(result).toMatchObject({ status: 'complete', resumed: false, candles: SHORT_RANGE_MINUTES });
    expect(await expectExact(store, exchange, 'BTCUSDT', { from: range.from, to: later.to })).toBe(
      SHORT_RANGE_MINUTES + 30,
    );
  });

  it('waits out a 429 and still stores the exact candles', async () => {
    const range = pastRange(SHORT_RANGE_MINUTES);
    exchange.faults.restErrors({ status: 429, count: 1, retryAfterSeconds: 1 });
    const [result] = await backfill({ store, rest, symbols: ['BTCUSDT'], ...range });

    expect(result?.status).toBe('complete');
    expect(rest.status().rateLimited).toBe(1);
    expect(await expectExact(store, exchange, 'BTCUSDT', range)).toBe(SHORT_RANGE_MINUTES);
  });

  it('reports an unknown symbol and still backfills the others', async () => {
    const range = pastRange(SHORT_RANGE_MINUTES);
    const events: BackfillProgress[] = [];
    const results = await backfill({
      store,
      rest,
      symbols: ['NOSUCHUSDT', 'ETHUSDT'],
      ...range,
      onProgress: (event) => events.push(event),
    });

    expect(results[0]).toMatchObject({ symbol: 'NOSUCHUSDT', status: 'unknown-symbol', candles: 0 });
    expect(results[0]?.error).toMatch(/Invalid symbol/);
    expect(results[1]).toMatchObject({ symbol: 'ETHUSDT', status: 'complete' });
    expect(events.filter((e) => e.type === 'done')).toHaveLength(2);
    expect(await store.getSymbol('NOSUCHUSDT')).toBeUndefined();
    expect(await expectExact(store, exchange, 'ETHUSDT', range)).toBe(SHORT_RANGE_MINUTES);
  });

  it('resumes after its last stored page when the range holds a halt, which the stored series keeps', async () => {
    const range = pastRange(LONG_RANGE_MINUTES);
    const halt = { from: range.from + 100 * MINUTE_MS, to: range.from + 160 * MINUTE_MS };
    exchange.faults.halt('BTCUSDT', halt.from, halt.to);
    const controller = new AbortController();
    const [first] = await backfill({
      store,
      rest,
      symbols: ['BTCUSDT'],
      ...range,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.type === 'page') controller.abort();
      },
    });
    expect(first?.status).toBe('aborted');
    const lastStored = first!.lastOpenTime!;

    const requestsBefore = exchange.stats().restRequests;
    const [second] = await backfill({ store, rest, symbols: ['BTCUSDT'], ...range });
    // One page from a minute before the last stored candle, not two from the start.
    expect(exchange.stats().restRequests - requestsBefore).toBe(1);
    expect(second).toMatchObject({ status: 'complete', resumed: true, fetchedFrom: lastStored - MINUTE_MS });
    const haltedMinutes = (halt.to - halt.from) / MINUTE_MS;
    expect(await expectExact(store, exchange, 'BTCUSDT', range)).toBe(LONG_RANGE_MINUTES - haltedMinutes);
  });

  it('leaves a halted stretch missing, invents no candles, and completes', async () => {
    const range = pastRange(SHORT_RANGE_MINUTES);
    const halt = { from: range.from + 30 * MINUTE_MS, to: range.from + 50 * MINUTE_MS };
    exchange.faults.halt('BTCUSDT', halt.from, halt.to);
    const [result] = await backfill({ store, rest, symbols: ['BTCUSDT'], ...range });

    const haltedMinutes = (halt.to - halt.from) / MINUTE_MS;
    expect(result).toMatchObject({ status: 'complete', candles: SHORT_RANGE_MINUTES - haltedMinutes });
    // The halt covers [from, to): its last minute opens a minute before `to`.
    const halted = { from: halt.from, to: halt.to - MINUTE_MS };
    expect(await store.listCandles({ symbol: 'BTCUSDT', resolution: '1m', ...halted })).toEqual([]);
    expect(await expectExact(store, exchange, 'BTCUSDT', range)).toBe(SHORT_RANGE_MINUTES - haltedMinutes);
  });
});

describe('the CLIs in child processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backfill-test-'));
  let exchange: SimulatedExchange;
  let run = 0;
  const nextDatabase = (): { path: string; url: string } => {
    const path = join(dir, `run-${++run}.db`);
    return { path, url: `sqlite:${path}` };
  };

  beforeEach(async () => {
    exchange = await createSimulatedExchange({ symbols: DEFAULT_SYMBOLS, seed: 11 });
  });

  afterEach(async () => {
    await exchange.close();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('backfill prints a line per symbol and the summary, and stores the candles', async () => {
    const range = pastRange(SHORT_RANGE_MINUTES);
    const database = nextDatabase();
    // An ISO time without an offset is UTC; epoch ms are accepted too.
    const fromText = new Date(range.from).toISOString().slice(0, 16);
    const args = ['--symbols', 'btcusdt,ETHUSDT', '--from', fromText, '--to', String(range.to)];
    const result = await runCli('src/cli/backfill.ts', args, {
      DATABASE_URL: database.url,
      BINANCE_REST_URL: exchange.restUrl,
    });

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^BTCUSDT: 180 candles, /m);
    expect(result.stdout).toMatch(/^ETHUSDT: 180 candles, /m);
    expect(result.stdout).toMatch(
      /^backfilled 360 candles for 2 symbols in \d+\.\d\d s \([\d,?]+ candles\/s\); 0 failed$/m,
    );
    // Run again on a terminal, with a bar per symbol: each line still says where it resumed.
    const again = await runInTerminal('src/cli/backfill.ts', args, {
      DATABASE_URL: database.url,
      BINANCE_REST_URL: exchange.restUrl,
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/BTCUSDT: \d+ candles, .* \(resumed at /);
    expect(again.stdout).toMatch(/ETHUSDT: \d+ candles, .* \(resumed at /);
    const store = new SqliteStore({ path: database.path });
    try {
      expect(await expectExact(store, exchange, 'BTCUSDT', range)).toBe(SHORT_RANGE_MINUTES);
      expect(await expectExact(store, exchange, 'ETHUSDT', range)).toBe(SHORT_RANGE_MINUTES);
    } finally {
      await store.close();
    }
  });

  it('backfill stops at the last minute the exchange has settled, so every candle it stores is closed', async () => {
    const from = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 5 * MINUTE_MS;
    const database = nextDatabase();
    const env = { DATABASE_URL: database.url, BINANCE_REST_URL: exchange.restUrl };
    const byDefault = await runCli(
      'src/cli/backfill.ts',
      ['--symbols', 'BTCUSDT', '--from', String(from)],
      env,
    );
    expect(byDefault.code).toBe(0);
    // A --to in the future is brought back to it, and said so.
    const future = String(Date.now() + HOUR_MS);
    const args = ['--symbols', 'ETHUSDT', '--from', String(from), '--to', future, '--replace'];
    const clamped = await runCli('src/cli/backfill.ts', args, env);
    expect(clamped.code).toBe(0);
    // --replace writes every candle of a symbol stored for the first time: each one is new.
    expect(clamped.stdout).toMatch(/^ETHUSDT: (\d+) candles, .*; \1 new or corrected$/m);
    expect(clamped.stderr).toMatch(/^note: minutes after \S+ are not settled on the exchange yet/m);
    const store = new SqliteStore({ path: database.path });
    try {
      for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
        const candles = await store.listCandles({ symbol, resolution: '1m', from, to: Date.now() });
        expect(candles.length).toBeGreaterThanOrEqual(3);
        expect(candles.every((candle) => candle.closed)).toBe(true);
      }
    } finally {
      await store.close();
    }
    // A --from inside the last settled minute still takes that minute.
    const settled = Math.floor((Date.now() - 10_000) / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
    const inside = await runCli(
      'src/cli/backfill.ts',
      ['--symbols', 'BTCUSDT', '--from', String(settled + 30_000)],
      env,
    );
    expect(inside.stderr).toBe('');
    expect(inside.code).toBe(0);
    // Nothing settled yet after --from: a usage error, not an empty success.
    const tooLate = await runCli(
      'src/cli/backfill.ts',
      ['--symbols', 'BTCUSDT', '--from', String(Date.now())],
      env,
    );
    expect(tooLate.code).toBe(2);
    expect(tooLate.stderr).toMatch(/the last minute the exchange has settled: nothing to backfill yet/);
  });

  it('backfill exits 1 when a symbol is unknown, after backfilling the others', async () => {
    const range = pastRange(30);
    const args = ['--symbols', 'NOSUCHUSDT,BTCUSDT', '--from', String(range.from), '--to', String(range.to)];
    const result = await runCli('src/cli/backfill.ts', args, {
      DATABASE_URL: nextDatabase().url,
      BINANCE_REST_URL: exchange.restUrl,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: NOSUCHUSDT: unknown to the exchange/m);
    expect(result.stdout).toMatch(/backfilled 30 candles for 1 symbols .*; 1 failed/);
  });

  it('backfill exits 2 with usage on a bad argument', async () => {
    const env = { DATABASE_URL: nextDatabase().url, BINANCE_REST_URL: exchange.restUrl };
    const cases: [string[], RegExp][] = [
      [['--symbols', 'BTCUSDT', '--from', '2024-01-01', '--form', 'x'], /--form/],
      [['--from', '2024-01-01'], /--symbols is required/],
      [['--symbols', 'BTCUSDT', '--from', '2024-02-30'], /--from "2024-02-30"/],
      // Epoch seconds and a date without dashes would read as ms in 1970: the whole history.
      [['--symbols', 'BTCUSDT', '--from', '1725148800'], /--from "1725148800" reads as epoch ms before 2017/],
      [['--symbols', 'BTCUSDT', '--from', '2024-09-01', '--to', '20240902'], /--to "20240902" reads as/],
      [
        ['--symbols', 'BTCUSDT', '--from', '2024-01-02', '--to', '2024-01-01'],
        /--from must not be after --to/,
      ],
      // A repeated option is refused, not silently replaced by its last value.
      [
        ['--symbols', 'BTCUSDT', '--symbols', 'ETHUSDT', '--from', '2024-01-01'],
        /--symbols is given more than once/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runCli('src/cli/backfill.ts', args, env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toMatch(/^usage: npm run backfill/m);
    }
  });

  it('backfill stops on SIGINT, keeps what it stored and exits 130', async () => {
    // Slow answers keep the run going long enough to be interrupted mid-way.
    exchange.faults.restDelay(300);
    const range = pastRange(LONG_RANGE_MINUTES * 2);
    const args = ['--symbols', 'BTCUSDT,ETHUSDT', '--from', String(range.from), '--to', String(range.to)];
    const database = nextDatabase();
    const result = await runCli(
      'src/cli/backfill.ts',
      args,
      { DATABASE_URL: database.url, BINANCE_REST_URL: exchange.restUrl },
      (kill) => {
        const poll = setInterval(() => {
          if (exchange.stats().restRequests < 2) return;
          clearInterval(poll);
          kill('SIGINT');
        }, 20);
      },
    );

    expect(result.code).toBe(130);
    expect(result.stdout).toMatch(/interrupted by SIGINT: stored candles are kept; run again to resume/);
    expect(result.stdout).toMatch(/^BTCUSDT: interrupted after \d+ candles/m);
    expect(result.stdout).toMatch(/^ETHUSDT: interrupted, nothing stored by this run$/m);
  });

  it('seed:symbols stores the top TRACK_TOP symbols, leaving out stablecoins, fiat and other quotes', async () => {
    const database = nextDatabase();
    const env = { DATABASE_URL: database.url, BINANCE_REST_URL: exchange.restUrl, TRACK_TOP: '3' };
    const first = await runCli('src/cli/seed-symbols.ts', [], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^stored 3 new symbols, activated 0, 0 already active$/m);
    const again = await runCli('src/cli/seed-symbols.ts', [], env);
    expect(again.stdout).toMatch(/^stored 0 new symbols, activated 0, 3 already active$/m);

    const now = Date.now();
    const byVolume = [...DEFAULT_SYMBOLS].sort((a, b) =>
      compareDecimal(
        parseDecimal(exchange.market.ticker24h(b, now).quoteVolume),
        parseDecimal(exchange.market.ticker24h(a, now).quoteVolume),
      ),
    );
    const store = new SqliteStore({ path: database.path });
    try {
      const stored = await store.listSymbols();
      expect(stored.map((s) => s.symbol).sort()).toEqual(byVolume.slice(0, 3).sort());
      expect(stored.every((s) => s.isActive && s.quoteAsset === 'USDT')).toBe(true);
      expect(stored.some((s) => UNIVERSE_EXTRA_SYMBOLS.includes(s.symbol))).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('seed:symbols stores exactly SYMBOLS when set, with assets from exchangeInfo', async () => {
    const database = nextDatabase();
    const env = { DATABASE_URL: database.url, BINANCE_REST_URL: exchange.restUrl, SYMBOLS: 'xrpusdt,ETHBTC' };
    const result = await runCli('src/cli/seed-symbols.ts', [], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^stored 2 new symbols, activated 0, 0 already active$/m);
    const store = new SqliteStore({ path: database.path });
    try {
      const stored = await store.listSymbols();
      expect(stored.map((s) => [s.symbol, s.baseAsset, s.quoteAsset, s.isActive])).toEqual([
        ['ETHBTC', 'ETH', 'BTC', true],
        ['XRPUSDT', 'XRP', 'USDT', true],
      ]);
    } finally {
      await store.close();
    }
  });

  it('seed:symbols activates a symbol of the universe that an import stored inactive', async () => {
    const database = nextDatabase();
    const before = new SqliteStore({ path: database.path });
    await before.insertSymbolsIfMissing([
      { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: false },
    ]);
    await before.close();
    const env = {
      DATABASE_URL: database.url,
      BINANCE_REST_URL: exchange.restUrl,
      SYMBOLS: 'BTCUSDT,ETHUSDT',
    };
    const result = await runCli('src/cli/seed-symbols.ts', [], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^activated: BTCUSDT$/m);
    expect(result.stdout).toMatch(/^stored 1 new symbols, activated 1, 0 already active$/m);
    const store = new SqliteStore({ path: database.path });
    try {
      expect((await store.listSymbols()).map((s) => [s.symbol, s.isActive])).toEqual([
        ['BTCUSDT', true],
        ['ETHUSDT', true],
      ]);
    } finally {
      await store.close();
    }
  });
});
