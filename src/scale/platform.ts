/**
 * The shared parts chosen by REDIS_URL (SPEC section 3): unset, an in-process cache and bus and this
 * process always ingesting; set, the Redis cache, the bus over Redis pub/sub, Socket.IO's Redis
 * adapter for fan-out across instances, and the ingestion lease. Owns the Redis connections.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ServerOptions } from 'socket.io';
import { createMemoryBus } from '../adapters/memory/bus.js';
import { MemoryCache } from '../adapters/memory/cache.js';
import { createRedisBus } from '../adapters/redis/bus.js';
import { RedisCache } from '../adapters/redis/cache.js';
import { createRedisConnection, isRedisReady } from '../adapters/redis/connection.js';
import { withOverrides } from '../adapters/with-overrides.js';
import type { Bus } from '../ports/bus.js';
import { SECOND_MS } from '../domain/price.js';
import { WINDOW_MS, type Cache } from '../ports/cache.js';
import { WINDOW_COVERAGE_MARGIN_MS } from '../realtime/gateway.js';
import { createLease, type LeaseFactory } from './lease.js';

/** Redis key of the ingestion lease. */
export const INGEST_LEASE_KEY = 'bms:lease:ingest';

export interface PlatformHealth {
  readonly driver: 'memory' | 'redis';
  readonly healthy: boolean;
}

export interface Platform {
  readonly cache: Cache;
  readonly bus: Bus;
  /** Socket.IO's adapter across instances; undefined for one process. */
  readonly socketAdapter?: ServerOptions['adapter'];
  /** Whether the adapter's connection is up, so other instances' broadcasts reach this one's clients. */
  socketAdapterReady(): boolean;
  /** The ingestion lease factory; undefined when this process always ingests. */
  readonly lease?: LeaseFactory;
  /** The connection for shared counters (login and registration attempts); none without Redis. */
  readonly counters?: Redis;
  /** Unique per process start. */
  readonly instanceId: string;
  health(): PlatformHealth;
  close(): Promise<void>;
}

/** What an in-process window keeps beyond the hour `historical_data` reads, in ms (its newest sample may lag). */
export const IN_PROCESS_WINDOW_SLACK_MS = 60_000;

/**
 * The in-process cache's window: enough for HISTORY_ON_SUBSCRIBE (the window's only reader, one
 * process alone), at most WINDOW_MS. Redis keeps WINDOW_MS for every instance whatever this is.
 */
export function inProcessWindowMs(historyOnSubscribeMs: number): number {
  const wanted = historyOnSubscribeMs + WINDOW_COVERAGE_MARGIN_MS + IN_PROCESS_WINDOW_SLACK_MS;
  return Math.min(WINDOW_MS, Math.ceil(wanted / SECOND_MS) * SECOND_MS);
}

export function createPlatform(options: {
  readonly redisUrl: string | undefined;
  readonly logger: Logger;
  readonly now: () => number;
  /** HISTORY_ON_SUBSCRIBE: sizes the in-process cache's window (inProcessWindowMs). */
  readonly historyOnSubscribeMs: number;
}): Platform {
  const { redisUrl, logger, now } = options;
  const instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  if (!redisUrl) {
    const cache = new MemoryCache({ now, windowMs: inProcessWindowMs(options.historyOnSubscribeMs) });
    const bus = createMemoryBus(logger.child({ module: 'bus' }));
    return {
      cache,
      bus,
      instanceId,
      socketAdapterReady: () => false,
      health: () => ({ driver: 'memory', healthy: true }),
      async close() {
        await bus.close();
        await cache.close();
      },
    };
  }

  const log = logger.child({ module: 'redis' });
  const command = createRedisConnection(redisUrl, { name: 'command', logger: log });
  const publisher = createRedisConnection(redisUrl, { name: 'publisher', logger: log });
  const subscriber = createRedisConnection(redisUrl, { name: 'subscriber', logger: log, subscriber: true });
  const adapterSubscriber = createRedisConnection(redisUrl, {
    name: 'socket.io-subscriber',
    logger: log,
    subscriber: true,
  });
  // The adapter publishes without handling the result; while Redis is down a publish fails at once
  // (no offline queue), and that must not become an unhandled rejection.
  const adapterPublisher = publisherThatNeverRejects(publisher);
  const connections: Redis[] = [command, publisher, subscriber, adapterSubscriber];
  const cache = new RedisCache({ redis: command, now });
  const bus = createRedisBus({ publisher, subscriber, logger: log });
  return {
    cache,
    bus,
    socketAdapter: createAdapter(adapterPublisher, adapterSubscriber),
    socketAdapterReady: () => isRedisReady(adapterSubscriber),
    counters: command,
    lease: (callbacks) =>
      createLease({ redis: command, key: INGEST_LEASE_KEY, holderId: instanceId, logger: log, ...callbacks }),
    instanceId,
    health: () => ({ driver: 'redis', healthy: connections.every(isRedisReady) }),
    async close() {
      await bus.close();
      await cache.close();
      for (const connection of connections) connection.disconnect();
    },
  };
}

/** The same connection, with `publish` turning a failure into 0 receivers. */
function publisherThatNeverRejects(redis: Redis): Redis {
  return withOverrides(redis, {
    publish: (channel: string, message: string | Buffer) => redis.publish(channel, message).catch(() => 0),
  });
}
