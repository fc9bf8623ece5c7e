/**
 * The Redis cache's cost (issue 6), against a throwaway redis-server. Memory: 4 hours of 1-second
 * samples for BENCH_SYMBOLS symbols written through RedisCache.appendWindow one second at a time
 * (every symbol in each call, as the service does), in bytes per symbol-hour from MEMORY USAGE of
 * the window's keys and from the INFO used_memory delta, against the naive layout (a sorted set per
 * symbol holding the same samples). Commands: Redis commands (INFO total_commands_processed, a
 * script's own commands included) per ingested second of LIVE_SYMBOLS symbols, appendWindow plus
 * setQuotes, averaged over COMMAND_SECONDS so bucket changes and sweeps count at their real rate,
 * by command (INFO commandstats), and the script calls among them: one round trip each. Last, the
 * in-process cache's window on the heap, at WINDOW_MS and at the length one process alone keeps.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { MemoryCache } from '../src/adapters/memory/cache.js';
import { RedisCache, WINDOW_BUCKET_MS } from '../src/adapters/redis/cache.js';
import { createRng } from '../src/binance/simulator/random.js';
import { generatedSymbolNames } from '../src/binance/simulator/symbols.js';
import { HOUR_MS } from '../src/domain/intervals.js';
import { SECOND_MS, type PriceQuote, type PriceSample } from '../src/domain/price.js';
import { WINDOW_MS, WINDOW_SECONDS } from '../src/ports/cache.js';
import { inProcessWindowMs } from '../src/scale/platform.js';
import { readyRedisConnection, startRedisServer } from '../test/helpers/redis-server.js';
import {
  callsBetween,
  commandCalls,
  commandsProcessed,
  fmt,
  infoNumber,
  line,
  perCommand,
  summarize,
} from './stats.js';

/** Symbols whose full window is written for the memory figures. */
const BENCH_SYMBOLS = 20;
/** Symbols per ingested second for the command figures: the default universe. */
const LIVE_SYMBOLS = 242;
/** Simulated seconds the command figures average over: two buckets, so every cost shows up. */
const COMMAND_SECONDS = (2 * WINDOW_BUCKET_MS) / SECOND_MS;
/** appendWindow calls in flight while filling the window (one connection pipelines them). */
const FILL_CALLS_IN_FLIGHT = 200;
const START = Date.parse('2024-09-21T00:00:00Z');

/** Canonical decimal text (no trailing zeros) of a random walk around a few price magnitudes. */
function createPrices(symbols: readonly string[], seed: number): () => string[] {
  const rng = createRng(seed);
  const magnitudes = [67_000, 3_400, 590, 1.234, 0.5123, 0.000_023_45];
  const prices = symbols.map((_, i) => magnitudes[i % magnitudes.length]!);
  return () =>
    prices.map((price, i) => {
      prices[i] = price * (1 + (rng() - 0.5) * 0.001);
      const decimals = Math.max(2, 8 - Math.max(0, Math.floor(Math.log10(price)) + 1));
      return prices[i].toFixed(decimals).replace(/\.?0+$/, '');
    });
}

/** Sum of MEMORY USAGE (every element counted) over the keys matching `pattern`. */
async function memoryUsage(admin: Redis, pattern: string): Promise<{ bytes: number; keys: number }> {
  let bytes = 0;
  let keys = 0;
  for await (const batch of admin.scanStream({ match: pattern, count: 1000 })) {
    for (const key of batch as string[]) {
      bytes += Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      keys++;
    }
  }
  return { bytes, keys };
}

/** A cache on a ready connection of its own; `disconnect` closes that connection. */
async function readyCache(
  url: string,
  keyPrefix: string,
  now: () => number,
): Promise<{ cache: RedisCache; disconnect: () => void }> {
  const redis = await readyRedisConnection(url, 'bench-cache');
  return { cache: new RedisCache({ redis, keyPrefix, now }), disconnect: () => redis.disconnect() };
}

export async function benchCache(): Promise<void> {
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  try {
    const symbols = generatedSymbolNames(BENCH_SYMBOLS);
    const seconds = WINDOW_SECONDS;
    const symbolHours = BENCH_SYMBOLS * (WINDOW_MS / HOUR_MS);

    // The chosen layout, written as the service writes it.
    let clock = START;
    const { cache, disconnect } = await readyCache(server.url, 'bench:', () => clock);
    const nextPrices = createPrices(symbols, 1);
    const written: PriceSample[][] = [];
    const usedBefore = await infoNumber(admin, 'memory', 'used_memory');
    const fillStarted = performance.now();
    let inFlight: Promise<void>[] = [];
    for (let s = 0; s < seconds; s++) {
      clock = START + s * SECOND_MS + 137;
      const prices = nextPrices();
      const samples = symbols.map((symbol, i) => ({ symbol, price: prices[i]!, timestamp: clock }));
      written.push(samples);
      inFlight.push(cache.appendWindow(samples));
      if (inFlight.length === FILL_CALLS_IN_FLIGHT) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    const fillMs = performance.now() - fillStarted;
    const chosen = await memoryUsage(admin, 'bench:win*');
    const chosenDelta = (await infoNumber(admin, 'memory', 'used_memory')) - usedBefore;
    const check = await cache.window({ symbol: symbols[0]! });
    if (check.length !== seconds) throw new Error(`window holds ${check.length} samples, not ${seconds}`);
    disconnect();

    // The naive layout: a sorted set per symbol, score = second, member = timestamp and price.
    const naiveBefore = await infoNumber(admin, 'memory', 'used_memory');
    for (let i = 0; i < symbols.length; i++) {
      const pipeline = admin.pipeline();
      for (let s = 0; s < seconds; s += 1000) {
        const members = written.slice(s, s + 1000).flatMap((second) => {
          const sample = second[i]!;
          return [Math.floor(sample.timestamp / SECOND_MS), `${sample.timestamp}:${sample.price}`];
        });
        pipeline.zadd(`naive:${symbols[i]!}`, ...members);
      }
      await pipeline.exec();
    }
    const naive = await memoryUsage(admin, 'naive:*');
    const naiveDelta = (await infoNumber(admin, 'memory', 'used_memory')) - naiveBefore;

    const perSymbolHour = (bytes: number): string => `${fmt(bytes / symbolHours / 1024, 1)} KB`;
    line(`window fill: ${BENCH_SYMBOLS} symbols x 4 h of 1 s samples`, `${fmt(fillMs / 1000, 1)} s`);
    line(
      `bucket hashes (${WINDOW_BUCKET_MS / SECOND_MS} s each, ${chosen.keys} keys): per symbol-hour`,
      `${perSymbolHour(chosen.bytes)} (MEMORY USAGE), ${perSymbolHour(chosenDelta)} (used_memory delta)`,
    );
    line('bucket hashes: per sample', `${fmt(chosen.bytes / (BENCH_SYMBOLS * seconds), 1)} bytes`);
    line(
      'naive sorted set per symbol: per symbol-hour',
      `${perSymbolHour(naive.bytes)} (MEMORY USAGE), ${perSymbolHour(naiveDelta)} (used_memory delta)`,
    );
    line('naive / bucket hashes', `${fmt(naive.bytes / chosen.bytes, 1)} x`);

    await benchCommands(server.url, admin);
    await benchInProcessWindow();
  } finally {
    admin.disconnect();
    await server.stop();
  }
}

/** The heap in use after a full collection, in bytes. */
function collectedHeap(): number {
  gc();
  return process.memoryUsage().heapUsed;
}
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * The in-process cache (REDIS_URL unset) holds its window on the heap: LIVE_SYMBOLS symbols filled
 * one second at a time for WINDOW_MS and for the window one process alone keeps (inProcessWindowMs
 * of the default hour), in heap bytes after a full collection.
 */
async function benchInProcessWindow(): Promise<void> {
  const symbols = generatedSymbolNames(LIVE_SYMBOLS);
  for (const windowMs of [WINDOW_MS, inProcessWindowMs(HOUR_MS)]) {
    const seconds = windowMs / SECOND_MS;
    let clock = START;
    const before = collectedHeap();
    const cache = new MemoryCache({ now: () => clock, windowMs });
    const nextPrices = createPrices(symbols, 2);
    for (let s = 0; s < seconds; s++) {
      clock = START + s * SECOND_MS + 137;
      const prices = nextPrices();
      await cache.appendWindow(symbols.map((symbol, i) => ({ symbol, price: prices[i]!, timestamp: clock })));
    }
    const bytes = collectedHeap() - before;
    line(
      `in-process window, ${LIVE_SYMBOLS} symbols x ${fmt(windowMs / 60_000, 0)} min: heap`,
      `${fmt(bytes / 1024 / 1024, 0)} MiB (${fmt(bytes / (LIVE_SYMBOLS * seconds), 1)} bytes per sample)`,
    );
    await cache.close();
  }
}

/** Commands and latency of one ingested second of LIVE_SYMBOLS symbols. */
async function benchCommands(url: string, admin: Redis): Promise<void> {
  const symbols = generatedSymbolNames(LIVE_SYMBOLS);
  let clock = START;
  const { cache, disconnect } = await readyCache(url, 'live:', () => clock);
  const nextPrices = createPrices(symbols, 2);
  const appendMs: number[] = [];
  const quotesMs: number[] = [];
  const ingest = async (second: number): Promise<void> => {
    clock = START + second * SECOND_MS + 137;
    const prices = nextPrices();
    const samples = symbols.map((symbol, i) => ({ symbol, price: prices[i]!, timestamp: clock }));
    const quotes: PriceQuote[] = samples.map((sample) => ({
      ...sample,
      open24h: sample.price,
      high24h: sample.price,
      low24h: sample.price,
      volume24h: '123456.789',
      quoteVolume24h: '98765432.1',
    }));
    let started = performance.now();
    await cache.appendWindow(samples);
    appendMs.push(performance.now() - started);
    started = performance.now();
    await cache.setQuotes(quotes);
    quotesMs.push(performance.now() - started);
  };
  // A window already full, as in a running service, and the scripts loaded.
  for (let second = 0; second < WINDOW_SECONDS; second += 60) await ingest(second);
  const from = WINDOW_SECONDS;
  for (let second = from; second < from + 10; second++) await ingest(second);
  appendMs.length = 0;
  quotesMs.length = 0;
  const callsBefore = await commandCalls(admin);
  const before = await commandsProcessed(admin);
  for (let second = from + 10; second < from + 10 + COMMAND_SECONDS; second++) await ingest(second);
  // The INFO that read `before` is counted in the second reading, not in the first.
  const commands = (await commandsProcessed(admin)) - before - 1;
  const callsAfter = await commandCalls(admin);
  // The cache sends nothing but script commands here, each one round trip: EVALSHA, and EVAL after a NOSCRIPT.
  const scriptCalls =
    callsBetween(callsBefore, callsAfter, 'evalsha') + callsBetween(callsBefore, callsAfter, 'eval');
  disconnect();

  line(`Redis commands per ingested second (${LIVE_SYMBOLS} symbols)`, fmt(commands / COMMAND_SECONDS, 1));
  line('  of which, per second', perCommand(callsBefore, callsAfter, COMMAND_SECONDS, 2));
  line('round trips (script calls) per ingested second', fmt(scriptCalls / COMMAND_SECONDS));
  const append = summarize(appendMs);
  const quotes = summarize(quotesMs);
  line(`appendWindow of ${LIVE_SYMBOLS} samples p50 / p99`, `${fmt(append.p50)} / ${fmt(append.p99)} ms`);
  line(`setQuotes of ${LIVE_SYMBOLS} quotes p50 / p99`, `${fmt(quotes.p50)} / ${fmt(quotes.p99)} ms`);
}
