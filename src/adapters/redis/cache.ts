/**
 * The Redis cache (REDIS_URL set): the Cache port shared by every instance, over one ioredis
 * connection from ./connection.ts, so a call rejects at once while Redis is down and within
 * REDIS_COMMAND_TIMEOUT_MS while it is slow; callers decide what to do. The connection stays its
 * owner's (scale/platform.ts shares it with the lease and the attempt counters).
 *
 * Writes run as Lua scripts from ./cache-scripts.ts (values as ./cache-codec.ts writes them), one
 * round trip per script call, or as one pipeline for sessions. setQuotes and appendWindow pack
 * their symbols into script calls of at most MAX_SYMBOLS_PER_SCRIPT symbols and
 * MAX_SAMPLES_PER_SCRIPT samples (a script holds Redis while it runs; a symbol with more samples
 * than that is split across calls): a call within those limits, such as the service's batch of one
 * second, is one round trip, and a larger one takes a round trip per script call. Inside a script,
 * quotes cost a few commands per call whatever the number of symbols, and the window an HSET per
 * sample plus a few commands per call and per bucket the window enters or leaves (below).
 *
 * Expiry is decided by the injected `now` (stored next to each value and checked by readers and
 * scripts), with a Redis expiry as the safety net, so the contract suite can move time in tests and
 * Redis still frees memory by itself in production:
 * - Quotes: one hash, a field per symbol holding the quote, its timestamp and when it was written.
 *   Writes (HMGET, HSET and PEXPIRE for all of a script call's symbols at once) keep a newer
 *   timestamp; readers drop fields older than QUOTE_TTL_MS; the hash expires QUOTE_TTL_MS after the
 *   last write, and a sweep every REDIS_CACHE_SWEEP_INTERVAL_MS deletes expired fields, so a symbol
 *   no longer quoted does not stay. Per-symbol keys with PX would cost a GET and a SET per symbol
 *   instead of three commands per call.
 * - The window: per symbol, a hash per WINDOW_BUCKET_MS bucket (field: the second's offset in the
 *   bucket; value: milliseconds and price), small enough for Redis's compact listpack encoding,
 *   plus one markers hash with each symbol's newest timestamp. An append is an HSET per sample, a
 *   PEXPIRE when the window reaches a new bucket, a DEL of the buckets that fell out of it, and
 *   HMGET, HSET and PEXPIRE of the markers; readers drop the seconds of the oldest bucket that fell
 *   out. A full-window read is one script: HGET of the marker and an HGETALL per bucket (121).
 *   bench/cache.ts (`npm run bench -- cache`; 20 symbols x 4 h of 1 s samples) measures about
 *   62 KB per symbol-hour by MEMORY USAGE, about 18 bytes a sample: about 6.7x less than the naive
 *   sorted set per symbol (score = second, member = timestamp and price, a skiplist at this size).
 *   It also measures an ingested second of 242 symbols (appendWindow and setQuotes, one script
 *   call each) at about 254 Redis commands, one HSET per sample and a few more per call and per
 *   bucket change, where the sorted sets would need a ZADD and a ZREMRANGEBYSCORE per symbol.
 *   A window nobody appended to for WINDOW_MS is dropped (its buckets expire after
 *   WINDOW_KEY_TTL_MS, and the sweep deletes them and its marker sooner).
 * - Sessions: a key per (symbol, openTime), the candle as a compact JSON array (decimals as
 *   strings, so exact) with when it was written, PX SESSION_TTL_MS.
 */
import type { Redis } from 'ioredis';
import type { Candle } from '../../domain/candle.js';
import { sampleSecond, SECOND_MS, type PriceQuote, type PriceSample } from '../../domain/price.js';
import {
  QUOTE_TTL_MS,
  SESSION_TTL_MS,
  WINDOW_MS,
  WINDOW_SECONDS,
  type Cache,
  type WindowQuery,
} from '../../ports/cache.js';
import {
  decodeCandle,
  decodeQuote,
  decodeWindow,
  encodeCandle,
  encodeQuote,
  encodeWindowValue,
} from './cache-codec.js';
import {
  APPEND_WINDOW_LUA,
  MAX_SAMPLES_PER_SCRIPT,
  MAX_SYMBOLS_PER_SCRIPT,
  MARK_WINDOW_GAP_LUA,
  READ_WINDOW_LUA,
  SET_QUOTES_LUA,
} from './cache-scripts.js';

const DEFAULT_CACHE_KEY_PREFIX = 'bms:';
/**
 * One window bucket, in ms (2 minutes): 120 one-second fields, under Redis's default
 * hash-max-listpack-entries (128), so each bucket stays a listpack (about 18 bytes a sample).
 */
export const WINDOW_BUCKET_MS = 2 * 60 * 1000;
/** Redis-side expiry of window keys, in ms: a safety net well past the window's own rules. */
export const WINDOW_KEY_TTL_MS = 2 * WINDOW_MS;
/** How often writes also delete expired quotes and idle windows, in ms of `now`. */
export const REDIS_CACHE_SWEEP_INTERVAL_MS = 60_000;

const BUCKET_SECONDS = WINDOW_BUCKET_MS / SECOND_MS;

export interface RedisCacheOptions {
  readonly redis: Redis;
  /** Prefix of every key, so several services or tests can share one Redis. */
  readonly keyPrefix?: string;
  /** Current time, epoch ms; decides what has expired. */
  readonly now?: () => number;
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;
interface CacheScripts {
  bmsCacheSetQuotes: ScriptCall;
  bmsCacheAppendWindow: ScriptCall;
  bmsCacheReadWindow: ScriptCall;
  bmsCacheMarkWindowGap: ScriptCall;
}

export class RedisCache implements Cache {
  readonly driver = 'redis';
  readonly windowMs = WINDOW_MS;
  private readonly redis: Redis & CacheScripts;
  private readonly now: () => number;
  private readonly quotesKey: string;
  private readonly markersKey: string;
  private readonly gapKey: string;
  private readonly bucketPrefix: string;
  private readonly sessionPrefix: string;
  private lastQuoteSweepAt: number;
  private lastWindowSweepAt: number;

  constructor(options: RedisCacheOptions) {
    const redis = options.redis;
    redis.defineCommand('bmsCacheSetQuotes', { numberOfKeys: 1, lua: SET_QUOTES_LUA });
    redis.defineCommand('bmsCacheAppendWindow', { numberOfKeys: 1, lua: APPEND_WINDOW_LUA });
    redis.defineCommand('bmsCacheReadWindow', { numberOfKeys: 1, lua: READ_WINDOW_LUA });
    redis.defineCommand('bmsCacheMarkWindowGap', { numberOfKeys: 1, lua: MARK_WINDOW_GAP_LUA });
    this.redis = redis as Redis & CacheScripts;
    this.now = options.now ?? Date.now;
    const prefix = options.keyPrefix ?? DEFAULT_CACHE_KEY_PREFIX;
    this.quotesKey = `${prefix}quotes`;
    this.markersKey = `${prefix}win`;
    this.gapKey = `${prefix}wingap`;
    this.bucketPrefix = `${prefix}win:`;
    this.sessionPrefix = `${prefix}session:`;
    this.lastQuoteSweepAt = this.now();
    this.lastWindowSweepAt = this.lastQuoteSweepAt;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Nothing of its own to release: the connection is its owner's (shared with the lease and counters). */
  async close(): Promise<void> {}

  async setQuotes(quotes: readonly PriceQuote[]): Promise<void> {
    const now = Math.floor(this.now());
    const newest = new Map<string, PriceQuote>();
    for (const quote of quotes) {
      const seen = newest.get(quote.symbol);
      if (!seen || quote.timestamp >= seen.timestamp) newest.set(quote.symbol, quote);
    }
    const sweep = now - this.lastQuoteSweepAt >= REDIS_CACHE_SWEEP_INTERVAL_MS;
    if (sweep) this.lastQuoteSweepAt = now;
    for (const call of packCalls([...newest.values()], () => 1, sweep)) {
      const args = call.items.flatMap((quote) => [quote.symbol, encodeQuote(quote, now)]);
      await this.redis.bmsCacheSetQuotes(this.quotesKey, now, QUOTE_TTL_MS, call.sweep, ...args);
    }
  }

  async getQuotes(symbols: readonly string[]): Promise<(PriceQuote | undefined)[]> {
    if (symbols.length === 0) return [];
    const values = await this.redis.hmget(this.quotesKey, ...symbols);
    const now = this.now();
    return symbols.map((symbol, i) => decodeQuote(symbol, values[i], now));
  }

  async appendWindow(samples: readonly PriceSample[]): Promise<void> {
    const now = Math.floor(this.now());
    // Per symbol, one sample per second (the later in the call wins).
    const bySymbol = new Map<string, Map<number, PriceSample>>();
    for (const sample of samples) {
      let seconds = bySymbol.get(sample.symbol);
      if (!seconds) {
        seconds = new Map();
        bySymbol.set(sample.symbol, seconds);
      }
      seconds.set(sampleSecond(sample.timestamp), sample);
    }
    // Ascending, in pieces a script call can take; a symbol's pieces go to separate calls.
    const pieces: { symbol: string; samples: PriceSample[] }[] = [];
    for (const [symbol, seconds] of bySymbol) {
      const ascending = [...seconds.values()].sort((a, b) => a.timestamp - b.timestamp);
      for (let i = 0; i < ascending.length; i += MAX_SAMPLES_PER_SCRIPT) {
        pieces.push({ symbol, samples: ascending.slice(i, i + MAX_SAMPLES_PER_SCRIPT) });
      }
    }
    const sweep = now - this.lastWindowSweepAt >= REDIS_CACHE_SWEEP_INTERVAL_MS;
    if (sweep) this.lastWindowSweepAt = now;
    const common = this.windowArgs(now);
    for (const call of packCalls(pieces, (piece) => piece.samples.length, sweep)) {
      const args: (string | number)[] = [];
      for (const piece of call.items) {
        args.push(piece.symbol, piece.samples.length);
        for (const sample of piece.samples) args.push(sample.timestamp, encodeWindowValue(sample));
      }
      await this.redis.bmsCacheAppendWindow(
        this.markersKey,
        ...common,
        WINDOW_KEY_TTL_MS,
        call.sweep,
        ...args,
      );
    }
  }

  async window(query: WindowQuery): Promise<PriceSample[]> {
    const from = query.from ?? 0;
    const to = query.to ?? Number.MAX_SAFE_INTEGER;
    const now = Math.floor(this.now());
    const reply = await this.redis.bmsCacheReadWindow(
      this.markersKey,
      ...this.windowArgs(now),
      query.symbol,
      from,
      to,
    );
    return decodeWindow(query.symbol, reply, BUCKET_SECONDS, from, to);
  }

  async markWindowGap(upTo: number): Promise<void> {
    await this.redis.bmsCacheMarkWindowGap(this.gapKey, Math.floor(upTo), WINDOW_MS);
  }

  async windowGap(): Promise<number | undefined> {
    const value = await this.redis.get(this.gapKey);
    return value === null ? undefined : Number(value);
  }

  async setSessions(
    sessions: readonly { readonly symbol: string; readonly candle: Candle }[],
  ): Promise<void> {
    if (sessions.length === 0) return;
    const now = Math.floor(this.now());
    const pipeline = this.redis.pipeline();
    for (const { symbol, candle } of sessions) {
      pipeline.set(this.sessionKey(symbol, candle.openTime), encodeCandle(candle, now), 'PX', SESSION_TTL_MS);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
  }

  async getSession(symbol: string, openTime: number): Promise<Candle | undefined> {
    const value = await this.redis.get(this.sessionKey(symbol, openTime));
    return value === null ? undefined : decodeCandle(symbol, openTime, value, this.now());
  }

  private windowArgs(now: number): (string | number)[] {
    return [this.bucketPrefix, now, WINDOW_MS, WINDOW_SECONDS, BUCKET_SECONDS];
  }

  private sessionKey(symbol: string, openTime: number): string {
    return `${this.sessionPrefix}${symbol}:${openTime}`;
  }
}

/**
 * Packs items into script calls of at most MAX_SYMBOLS_PER_SCRIPT items and MAX_SAMPLES_PER_SCRIPT
 * weight (an item heavier than that goes alone). The first call sweeps when a sweep is due, and
 * then there is at least one call.
 */
function packCalls<T>(
  items: readonly T[],
  weight: (item: T) => number,
  sweep: boolean,
): { items: T[]; sweep: 0 | 1 }[] {
  const calls: { items: T[]; sweep: 0 | 1 }[] = [{ items: [], sweep: sweep ? 1 : 0 }];
  let load = 0;
  for (const item of items) {
    let call = calls.at(-1)!;
    const full =
      call.items.length === MAX_SYMBOLS_PER_SCRIPT ||
      (call.items.length > 0 && load + weight(item) > MAX_SAMPLES_PER_SCRIPT);
    if (full) {
      call = { items: [], sweep: 0 };
      calls.push(call);
      load = 0;
    }
    call.items.push(item);
    load += weight(item);
  }
  return sweep || items.length > 0 ? calls : [];
}
