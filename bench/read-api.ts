/**
 * Read API latency for one symbol holding a year of 1m candles (525,600 rows), through the real app
 * listening on a port, against /system/health in the same run as the baseline: on a SQLite file,
 * then on PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { PostgresStore } from '../src/adapters/postgres/store.js';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import type { StoredCandle } from '../src/domain/candle.js';
import { formatDecimal } from '../src/domain/decimal.js';
import { DAY_MS, MINUTE_MS } from '../src/domain/intervals.js';
import { createSessionCalendar } from '../src/domain/session-calendar.js';
import { buildApp } from '../src/http/build-app.js';
import { createCandleReader } from '../src/market/candles.js';
import { createPriceReader } from '../src/market/prices.js';
import type { Store } from '../src/ports/store.js';
import { startPostgresServer } from '../test/helpers/postgres-server.js';
import { fmt, line, summarize } from './stats.js';

const DAYS = 365;
const MINUTES = DAYS * 1440;
const START = Date.parse('2025-01-01T00:00:00Z');
const REQUESTS_PER_QUERY = 300;
const WARMUP_REQUESTS = 20;

/** A random walk in exact 8-decimal units, like Binance's 1m klines. */
export function* yearOfCandles(symbol: string): Generator<StoredCandle[]> {
  let seed = 12345;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
  let price = 6_300_000_000_000n; // 63000.00000000
  const text = (units: bigint) => formatDecimal({ units, scale: 8 });
  for (let day = 0; day < DAYS; day++) {
    const batch: StoredCandle[] = [];
    for (let m = 0; m < 1440; m++) {
      const openTime = START + (day * 1440 + m) * MINUTE_MS;
      const open = price;
      price += BigInt(Math.round((next() - 0.5) * 4_000_000_000));
      const high = (open > price ? open : price) + BigInt(Math.round(next() * 1_000_000_000));
      const low = (open < price ? open : price) - BigInt(Math.round(next() * 1_000_000_000));
      const volume = BigInt(Math.round(next() * 5_000_000_000));
      const quote = (volume * price) / 100_000_000n;
      batch.push({
        symbol,
        interval: '1m',
        openTime,
        closeTime: openTime + MINUTE_MS - 1,
        open: text(open),
        high: text(high),
        low: text(low),
        close: text(price),
        volume: text(volume),
        quoteVolume: text(quote),
        trades: 100 + Math.floor(next() * 900),
        takerBuyVolume: text(volume / 2n),
        takerBuyQuoteVolume: text(quote / 2n),
        closed: true,
        eventTime: openTime + MINUTE_MS,
      });
    }
    yield batch;
  }
}

async function measure(url: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP_REQUESTS + REQUESTS_PER_QUERY; i++) {
    const started = performance.now();
    const response = await fetch(url);
    const body = (await response.json()) as { success: boolean };
    const elapsed = performance.now() - started;
    if (!response.ok || !body.success) throw new Error(`${url} answered ${response.status}`);
    if (i >= WARMUP_REQUESTS) samples.push(elapsed);
  }
  return samples;
}

/**
 * Loads the year into `store`, then measures the read API on it. `sizeBytes` is the store's size
 * on disk; `label` names the store in every line.
 */
async function measureStore(label: string, store: Store, sizeBytes: () => Promise<number>): Promise<void> {
  await store.insertSymbol({
    symbol: 'BTCUSDT',
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    status: 'TRADING',
    isActive: true,
  });
  const bytesBefore = await sizeBytes();
  const started = performance.now();
  for (const batch of yearOfCandles('BTCUSDT')) await store.upsertCandles(batch);
  const loadSeconds = (performance.now() - started) / 1000;
  line(`${label}: 1m candles written (with rollups), rows/s`, fmt(MINUTES / loadSeconds, 0));
  const bytesPerDay = ((await sizeBytes()) - bytesBefore) / DAYS;
  line(`${label}: bytes per symbol-day of 1m candles (incl. rollups, index)`, fmt(bytesPerDay, 0));
  line(`${label}: bytes per 1m candle`, fmt(bytesPerDay / 1440, 1));

  const now = () => START + DAYS * DAY_MS;
  const calendar = createSessionCalendar({ hours: [1, 5, 9, 13, 17, 21], timeZone: 'UTC' });
  const app = await buildApp({
    logger: pino({ level: 'silent' }),
    store,
    candles: createCandleReader({ store, calendar, now }),
    prices: createPriceReader({ store, now }),
    version: 'bench',
    now,
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const baseline = summarize(await measure(`${base}/api/v1/system/health`));
    line(
      `${label}: baseline GET /system/health p50 / p99 (ms)`,
      `${fmt(baseline.p50)} / ${fmt(baseline.p99)}`,
    );
    for (const path of [
      '/api/v1/price-data/BTCUSDT/aggregated?interval=1d&limit=366',
      '/api/v1/price-data/BTCUSDT/aggregated?interval=4h&timeZone=-1:00&limit=1000',
      '/api/v1/price-data/BTCUSDT/intervals?limit=1000',
      // Not a target: a 1d grid shifted by 8 h cannot use the 1d rollup and reads 1h rows.
      '/api/v1/price-data/BTCUSDT/aggregated?interval=1d&timeZone=8&limit=366',
      // Not a target: the most rows a timeZone makes of a day, 41 (1m at its edges, 15m, 1h).
      '/api/v1/price-data/BTCUSDT/aggregated?interval=1d&timeZone=0:01&limit=366',
    ]) {
      const figures = summarize(await measure(`${base}${path}`));
      const verdict = figures.p99 < 50 ? 'meets p99 < 50 ms' : 'MISSES p99 < 50 ms';
      line(
        `${label}: GET ${path.replace('/api/v1/price-data/BTCUSDT', '')}`,
        `p50 ${fmt(figures.p50)} ms, p99 ${fmt(figures.p99)} ms (${fmt(figures.p99 / baseline.p99, 1)}x health p99) ${verdict}`,
      );
    }
  } finally {
    await app.close();
  }
}

/** The read API on a SQLite file, then on PostgreSQL (a throwaway local server, fsync on). */
export async function benchReadApi(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-read-'));
  try {
    const sqlite = new SqliteStore({ path: join(dir, 'market.db') });
    try {
      await measureStore('sqlite', sqlite, async () => sqlite.sizeBytes());
    } finally {
      await sqlite.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const server = await startPostgresServer({ fsync: true });
  try {
    const postgres = await PostgresStore.open({ url: await server.createDatabase() });
    try {
      await measureStore('postgres', postgres, () => postgres.sizeBytes());
    } finally {
      await postgres.close();
    }
  } finally {
    await server.stop();
  }
}
