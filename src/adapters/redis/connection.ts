/**
 * Redis connections (ioredis) with the service's fault behaviour: a command never waits for Redis
 * to come back (no offline queue, so nothing buffers while it is down) and never waits longer than
 * REDIS_COMMAND_TIMEOUT_MS for a slow one; a connection that hears nothing for
 * REDIS_SOCKET_TIMEOUT_MS while commands wait (a frozen Redis) is dropped, so they do not pile up; the connection retries by itself with a capped backoff;
 * an outage is logged once when it starts and once when it ends, not per failed command.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Longest a command may take before it fails, in ms: a slow Redis must not stall its callers. */
export const REDIS_COMMAND_TIMEOUT_MS = 1000;
/**
 * Longest a connection with commands waiting may hear nothing before it is dropped and redialled,
 * in ms. A frozen Redis keeps its sockets open: a command that timed out is still queued and
 * written, and would run when Redis thaws, so without this every write, publish and lease claim of
 * the freeze would pile up in memory and then land at once, stale. Dropping the connection rejects
 * the commands still held here and reconnects through the usual path (`ready`, which the lease
 * listens to); those already written in those ms sit in Redis's socket buffer and still run at the
 * thaw, so at most this long of them.
 */
export const REDIS_SOCKET_TIMEOUT_MS = 2000;
/** Longest wait between two reconnection attempts, in ms. */
export const REDIS_MAX_RETRY_DELAY_MS = 2000;
/** First wait before reconnecting, in ms; doubles up to REDIS_MAX_RETRY_DELAY_MS. */
const REDIS_FIRST_RETRY_DELAY_MS = 50;
/** How long a connection attempt may take, in ms. */
const REDIS_CONNECT_TIMEOUT_MS = 2000;

export interface RedisConnectionOptions {
  /** Shown in logs and in `CLIENT LIST`. */
  readonly name: string;
  readonly logger: Logger;
  /**
   * A subscriber's SUBSCRIBE may be queued until the connection is up (ioredis re-subscribes after a
   * reconnect by itself); a command connection fails at once instead.
   */
  readonly subscriber?: boolean;
}

export function createRedisConnection(url: string, options: RedisConnectionOptions): Redis {
  const logger = options.logger.child({ redis: options.name });
  const redis = new Redis(url, {
    connectionName: options.name,
    enableOfflineQueue: options.subscriber === true,
    maxRetriesPerRequest: options.subscriber ? null : 0,
    commandTimeout: options.subscriber ? undefined : REDIS_COMMAND_TIMEOUT_MS,
    socketTimeout: options.subscriber ? undefined : REDIS_SOCKET_TIMEOUT_MS,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt) =>
      Math.min(REDIS_FIRST_RETRY_DELAY_MS * 2 ** Math.min(attempt, 10), REDIS_MAX_RETRY_DELAY_MS),
  });
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    // The reason only: ioredis attaches the failed command to its error, and a refused password's
    // is `HELLO 3 AUTH default <password>`.
    const { code } = error as { code?: string };
    logger.warn({ code, reason: error.message }, 'redis unreachable; retrying');
  });
  redis.on('ready', () => {
    if (down) logger.info('redis reachable again');
    down = false;
  });
  return redis;
}

/** Whether the connection is up and ready for commands right now. */
export const isRedisReady = (redis: Redis): boolean => redis.status === 'ready';
