/**
 * The two stores side by side on the same work, in the same run: a SQLite file (WAL,
 * synchronous=NORMAL) against PostgreSQL on a throwaway local server (fsync on, commits not
 * waiting for it: the same durability). SQLite is the baseline; PostgreSQL's figures are printed
 * as ratios to it. The work is what the service asks of its store:
 * - a live second: one flush of the write buffer with every tracked symbol's forming 1m candle
 *   and price sample (242 of each), fenced as under a lease, the rollups they touch rewritten in
 *   the same transaction;
 * - history: a day of one symbol's closed 1m candles per call, as the import and backfill write;
 * - reads: 1,000 1m candles of a symbol from a month of them, and the 720 1h rollups of that month.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PostgresStore } from '../src/adapters/postgres/store.js';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { generatedSymbolNames } from '../src/binance/simulator/symbols.js';
import type { StoredCandle } from '../src/domain/candle.js';
import { MINUTE_MS } from '../src/domain/intervals.js';
import type { PriceSample } from '../src/domain/price.js';
import type { Store } from '../src/ports/store.js';
import { startPostgresServer } from '../test/helpers/postgres-server.js';
import { yearOfCandles } from './read-api.js';
import { fmt, line, summarize } from './stats.js';

const SYMBOL_COUNT = 242;
const LIVE_SECONDS = 300;
const HISTORY_DAYS = 30;
const READS = 300;
const READ_CANDLES = 1000;
const START = Date.parse('2025-01-01T00:00:00Z');

interface StoreFigures {
  readonly liveSecondsPerSecond: number;
  readonly live: { p50: number; p99: number };
  readonly historyRowsPerSecond: number;
  readonly read1m: { p50: number; p99: number };
  readonly read1h: { p50: number; p99: number };
}

/** Second `second` of the live run: each symbol's forming candle of that minute and its sample. */
function liveSecond(
  symbols: readonly string[],
  second: number,
): { candles: StoredCandle[]; samples: PriceSample[] } {
  const at = START + second * 1000;
  const openTime = at - (at % MINUTE_MS);
  const candles: StoredCandle[] = [];
  const samples: PriceSample[] = [];
  symbols.forEach((symbol, i) => {
    const price = `${100 + i}.${String(second % 100).padStart(2, '0')}000000`;
    const closed = (at + 1000) % MINUTE_MS === 0;
    candles.push({
      symbol,
      interval: '1m',
      openTime,
      closeTime: openTime + MINUTE_MS - 1,
      open: `${100 + i}.00000000`,
      high: `${101 + i}.00000000`,
      low: `${99 + i}.00000000`,
      close: price,
      volume: `${second}.50000000`,
      quoteVolume: `${second * 100}.25000000`,
      trades: second,
      takerBuyVolume: `${second}.00000000`,
      takerBuyQuoteVolume: `${second * 50}.00000000`,
      closed,
      eventTime: at,
    });
    samples.push({ symbol, price, timestamp: at });
  });
  return { candles, samples };
}

async function measure(store: Store): Promise<StoreFigures> {
  const symbols = generatedSymbolNames(SYMBOL_COUNT);
  // Fenced, as the ingesting instance writes under its lease (scale/ingestion.ts).
  const fence = { name: 'ingest', token: await store.advanceFence('ingest') };
  const liveMs: number[] = [];
  const liveStarted = performance.now();
  for (let second = 0; second < LIVE_SECONDS; second++) {
    const { candles, samples } = liveSecond(symbols, second);
    const started = performance.now();
    await store.upsertCandles(candles, fence);
    await store.insertPriceSamples(samples, fence);
    liveMs.push(performance.now() - started);
  }
  const liveElapsed = performance.now() - liveStarted;

  let rows = 0;
  let day = 0;
  const historyStarted = performance.now();
  for (const batch of yearOfCandles('HISTUSDT')) {
    if (day++ >= HISTORY_DAYS) break;
    await store.upsertCandles(batch);
    rows += batch.length;
  }
  const historyElapsed = performance.now() - historyStarted;

  const monthMinutes = HISTORY_DAYS * 1440;
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
  const read1m: number[] = [];
  const read1h: number[] = [];
  for (let i = 0; i < READS; i++) {
    const from = START + Math.floor(next() * (monthMinutes - READ_CANDLES)) * MINUTE_MS;
    let started = performance.now();
    const candles = await store.listCandles({
      symbol: 'HISTUSDT',
      resolution: '1m',
      from,
      to: from + (READ_CANDLES - 1) * MINUTE_MS,
    });
    read1m.push(performance.now() - started);
    if (candles.length !== READ_CANDLES) throw new Error(`read ${candles.length} candles`);
    started = performance.now();
    const hours = await store.listCandles({
      symbol: 'HISTUSDT',
      resolution: '1h',
      from: START,
      to: START + monthMinutes * MINUTE_MS - 1,
    });
    read1h.push(performance.now() - started);
    if (hours.length !== HISTORY_DAYS * 24) throw new Error(`read ${hours.length} rollups`);
  }
  return {
    liveSecondsPerSecond: LIVE_SECONDS / (liveElapsed / 1000),
    live: summarize(liveMs),
    historyRowsPerSecond: rows / (historyElapsed / 1000),
    read1m: summarize(read1m),
    read1h: summarize(read1h),
  };
}

function print(name: string, figures: StoreFigures, baseline?: StoreFigures): void {
  const ratio = (value: number, base: number | undefined) =>
    base === undefined ? '' : ` (${fmt(value / base, 2)}x sqlite)`;
  line(
    `${name}: live seconds written/s (${SYMBOL_COUNT} candles + samples)`,
    fmt(figures.liveSecondsPerSecond, 0) +
      ratio(figures.liveSecondsPerSecond, baseline?.liveSecondsPerSecond),
  );
  line(
    `  one live second, ms`,
    `p50 ${fmt(figures.live.p50)}, p99 ${fmt(figures.live.p99)}` +
      ratio(figures.live.p50, baseline?.live.p50),
  );
  line(
    `${name}: history, 1m rows/s (a day per call)`,
    fmt(figures.historyRowsPerSecond, 0) +
      ratio(figures.historyRowsPerSecond, baseline?.historyRowsPerSecond),
  );
  line(
    `${name}: read ${READ_CANDLES} 1m candles, ms`,
    `p50 ${fmt(figures.read1m.p50)}, p99 ${fmt(figures.read1m.p99)}` +
      ratio(figures.read1m.p50, baseline?.read1m.p50),
  );
  line(
    `${name}: read a month of 1h rollups, ms`,
    `p50 ${fmt(figures.read1h.p50)}, p99 ${fmt(figures.read1h.p99)}` +
      ratio(figures.read1h.p50, baseline?.read1h.p50),
  );
}

export async function benchStore(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-store-'));
  const server = await startPostgresServer({ fsync: true });
  try {
    const sqlite = new SqliteStore({ path: join(dir, 'market.db') });
    let baseline: StoreFigures;
    try {
      baseline = await measure(sqlite);
    } finally {
      await sqlite.close();
    }
    print('sqlite', baseline);
    const postgres = await PostgresStore.open({ url: await server.createDatabase() });
    try {
      print('postgres', await measure(postgres), baseline);
    } finally {
      await postgres.close();
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
