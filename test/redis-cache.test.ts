/**
 * The Redis cache against a throwaway redis-server: the cache contract, the key layout (compact
 * buckets, a Redis expiry on every key, sweeping), and its behaviour while Redis is down or frozen.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REDIS_CACHE_SWEEP_INTERVAL_MS,
  RedisCache,
  WINDOW_BUCKET_MS,
  WINDOW_KEY_TTL_MS,
} from '../src/adapters/redis/cache.js';
import { REDIS_COMMAND_TIMEOUT_MS } from '../src/adapters/redis/connection.js';
import { HOUR_MS } from '../src/domain/intervals.js';
import { QUOTE_TTL_MS, SESSION_TTL_MS, WINDOW_MS, WINDOW_SECONDS, type Cache } from '../src/ports/cache.js';
import { everySecond, quote, runCacheContract, session } from './cache-contract.js';
import { readyRedisConnection, startRedisServer, type RedisServer } from './helpers/redis-server.js';

/** How much longer than the command timeout a failing call may take to reject, in ms. */
const REJECT_SLACK_MS = 500;
/** How long the connection may take to come back after Redis restarts, in ms. */
const RECONNECT_WITHIN_MS = 10_000;

const START = Date.parse('2024-09-21T00:00:00Z');

let server: RedisServer;
let admin: Redis;
let prefixes = 0;

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url, { lazyConnect: true });
  await admin.connect();
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});

/** A cache on its own ready connection and key prefix; cleanup closes it and deletes its keys. */
async function makeRedisCache(
  now: () => number,
): Promise<{ cache: RedisCache; prefix: string; cleanup: () => Promise<void> }> {
  const prefix = `test${++prefixes}:`;
  const redis = await readyRedisConnection(server.url, 'cache-test');
  const cache = new RedisCache({ redis, keyPrefix: prefix, now });
  const cleanup = async (): Promise<void> => {
    await cache.close();
    redis.disconnect();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
  };
  return { cache, prefix, cleanup };
}

runCacheContract('redis', async (now) => {
  const { cache, cleanup } = await makeRedisCache(now);
  return { cache, cleanup };
});

describe('redis cache layout', () => {
  it('keeps the window in compact listpack buckets, at most WINDOW_MS / WINDOW_BUCKET_MS + 1 per symbol', async () => {
    let clock = START;
    const { cache, prefix, cleanup } = await makeRedisCache(() => clock);
    const samples = everySecond('BTCUSDT', START, WINDOW_SECONDS + 3600);
    for (let i = 0; i < samples.length; i += 900) {
      const batch = samples.slice(i, i + 900);
      clock = batch.at(-1)!.timestamp;
      await cache.appendWindow(batch);
    }
    const buckets = await admin.keys(`${prefix}win:BTCUSDT:*`);
    expect(buckets.length).toBeLessThanOrEqual(WINDOW_MS / WINDOW_BUCKET_MS + 1);
    for (const key of buckets) expect(await admin.object('ENCODING', key)).toBe('listpack');
    await cleanup();
  });

  it('reads a damaged or foreign value as absent, never as a NaN time or an empty price', async () => {
    const { cache, prefix, cleanup } = await makeRedisCache(() => START + 10_000);
    const samples = everySecond('BTCUSDT', START, 5);
    await cache.appendWindow(samples);
    await cache.setQuotes([quote('BTCUSDT', START, '1'), quote('ETHUSDT', START, '2')]);
    await cache.setSessions([{ symbol: 'BTCUSDT', candle: session({ openTime: START }) }]);
    // Fields of another version or damaged, beside the good ones.
    const [bucket] = await admin.keys(`${prefix}win:BTCUSDT:*`);
    await admin.hset(bucket!, 'x', '0001.5', '3', '', '4', '12', '99999', '0001.5', '2', '00');
    const good = (await admin.hget(`${prefix}quotes`, 'ETHUSDT'))!;
    await admin.hset(`${prefix}quotes`, 'ETHUSDT', good.replace(/^\d+/, 'abc'));
    const sessionKey = `${prefix}session:BTCUSDT:${START}`;
    await admin.set(sessionKey, (await admin.get(sessionKey))!.replace('"63012.01000001"', '""'));

    const window = await cache.window({ symbol: 'BTCUSDT' });
    expect(window.every(({ timestamp, price }) => Number.isSafeInteger(timestamp) && price !== '')).toBe(
      true,
    );
    expect(window).toEqual(samples.filter((_, i) => i !== 2 && i !== 3 && i !== 4));
    expect((await cache.getQuotes(['BTCUSDT', 'ETHUSDT'])).map((q) => q?.price)).toEqual(['1', undefined]);
    expect(await cache.getSession('BTCUSDT', START)).toBeUndefined();
    await cleanup();
  });

  it('gives every key a Redis expiry as a safety net', async () => {
    const { cache, prefix, cleanup } = await makeRedisCache(() => START);
    await cache.setQuotes([quote('BTCUSDT', START, '1')]);
    await cache.appendWindow(everySecond('BTCUSDT', START, 300));
    await cache.setSessions([
      { symbol: 'BTCUSDT', candle: session({ openTime: START, closeTime: START + 1, closed: true }) },
    ]);
    const ttls = async (pattern: string): Promise<number[]> =>
      Promise.all((await admin.keys(`${prefix}${pattern}`)).map((key) => admin.pttl(key)));
    const within = (limitMs: number) => (ttl: number) => ttl > 0 && ttl <= limitMs;
    expect((await ttls('quotes')).every(within(QUOTE_TTL_MS))).toBe(true);
    const windowKeys = await ttls('win*');
    expect(windowKeys.length).toBeGreaterThan(1);
    expect(windowKeys.every(within(WINDOW_KEY_TTL_MS))).toBe(true);
    expect(await ttls('session:*')).toSatisfy(
      (list: number[]) => list.length === 1 && list.every(within(SESSION_TTL_MS)),
    );
    await cleanup();
  });

  it('sweeps expired quotes and idle windows out of Redis on later writes', async () => {
    let clock = START;
    const { cache, prefix, cleanup } = await makeRedisCache(() => clock);
    await cache.setQuotes([quote('BTCUSDT', START, '1')]);
    await cache.appendWindow(everySecond('BTCUSDT', START, 300));
    clock += Math.max(QUOTE_TTL_MS, WINDOW_MS) + REDIS_CACHE_SWEEP_INTERVAL_MS;
    await cache.setQuotes([quote('ETHUSDT', clock, '1')]);
    await cache.appendWindow(everySecond('ETHUSDT', clock, 1));
    expect(await admin.hkeys(`${prefix}quotes`)).toEqual(['ETHUSDT']);
    expect(await admin.hkeys(`${prefix}win`)).toEqual(['ETHUSDT']);
    expect(await admin.keys(`${prefix}win:BTCUSDT:*`)).toEqual([]);
    await cleanup();
  });
});

describe('redis cache faults', () => {
  /** A session candle opening at START, the one getSession(…, START) asks for. */
  const candle = session({ openTime: START, closeTime: START + 4 * HOUR_MS - 1, trades: 42 });

  /** Every method of the port, each expected to reject. */
  const calls = (cache: Cache): (() => Promise<unknown>)[] => [
    () => cache.ping(),
    () => cache.setQuotes([quote('BTCUSDT', START, '1')]),
    () => cache.getQuotes(['BTCUSDT']),
    () => cache.appendWindow(everySecond('BTCUSDT', START, 2)),
    () => cache.window({ symbol: 'BTCUSDT' }),
    () => cache.markWindowGap(START),
    () => cache.windowGap(),
    () => cache.setSessions([{ symbol: 'BTCUSDT', candle }]),
    () => cache.getSession('BTCUSDT', START),
  ];

  /** All at once, as the service's callers would be: each rejects on its own, none waits for Redis. */
  async function expectEachRejectsQuickly(cache: Cache): Promise<void> {
    await Promise.all(
      calls(cache).map(async (call) => {
        const started = Date.now();
        await expect(call()).rejects.toThrow();
        expect(Date.now() - started).toBeLessThan(REDIS_COMMAND_TIMEOUT_MS + REJECT_SLACK_MS);
      }),
    );
  }

  async function expectWorking(cache: Cache): Promise<void> {
    await cache.appendWindow(everySecond('BTCUSDT', START, 2));
    expect(await cache.window({ symbol: 'BTCUSDT' })).toHaveLength(2);
    await cache.setSessions([{ symbol: 'BTCUSDT', candle }]);
    expect(await cache.getSession('BTCUSDT', START)).toStrictEqual(candle);
  }

  it('fails fast instead of queueing while Redis is down, and recovers by itself', async () => {
    const { cache, cleanup } = await makeRedisCache(() => START);
    await expectWorking(cache);
    await server.kill();
    try {
      await expectEachRejectsQuickly(cache);
    } finally {
      await server.start();
    }
    const deadline = Date.now() + RECONNECT_WITHIN_MS;
    while (
      !(await cache.ping().then(
        () => true,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error('the cache did not reconnect');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await expectWorking(cache);
    await cleanup();
  });

  it('rejects within the command timeout rather than hang while Redis is frozen', async () => {
    const { cache, cleanup } = await makeRedisCache(() => START);
    await expectWorking(cache);
    server.freeze();
    try {
      await expectEachRejectsQuickly(cache);
    } finally {
      server.resume();
    }
    await expectWorking(cache);
    await cleanup();
  });
});
