/**
 * The bus over Redis pub/sub: one channel per message kind under a prefix, JSON payloads. The
 * publisher connection fails fast while Redis is down (connection.ts: no offline queue), so a
 * message then is dropped and counted, never queued; the subscriber connection re-subscribes by
 * itself after a reconnect. A message that is not JSON of its channel's shape (BUS_MESSAGE_SCHEMAS:
 * another program on the channel) is counted, logged and ignored.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { BUS_MESSAGE_SCHEMAS, type Bus, type BusChannel, type BusMessages } from '../../ports/bus.js';
import { isRedisReady } from './connection.js';

export interface RedisBusOptions {
  readonly publisher: Redis;
  /** A connection of its own: a subscribed Redis connection can run nothing else. */
  readonly subscriber: Redis;
  readonly logger: Logger;
  readonly prefix?: string;
}

export const DEFAULT_BUS_PREFIX = 'bms:bus:';

export function createRedisBus(options: RedisBusOptions): Bus {
  const { publisher, subscriber, logger } = options;
  const prefix = options.prefix ?? DEFAULT_BUS_PREFIX;
  const handlers = new Map<string, Set<(message: never) => void>>();
  let published = 0;
  let received = 0;
  let dropped = 0;
  let malformed = 0;

  subscriber.on('message', (name: string, text: string) => {
    const set = handlers.get(name);
    if (!set) return;
    const channel = name.slice(prefix.length) as BusChannel;
    let message: unknown;
    try {
      const parsed = BUS_MESSAGE_SCHEMAS[channel].safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid message');
      message = parsed.data;
    } catch (error) {
      malformed++;
      logger.warn({ err: error, channel: name }, 'malformed bus message ignored');
      return;
    }
    received++;
    for (const handler of set) {
      // A failing handler is one instance's bug; it must not break the subscriber connection.
      try {
        handler(message as never);
      } catch (error) {
        logger.error({ err: error, channel: name }, 'bus handler failed');
      }
    }
  });

  return {
    driver: 'redis',
    publish(channel, message) {
      if (!isRedisReady(publisher)) {
        dropped++;
        return;
      }
      publisher.publish(prefix + channel, JSON.stringify(message)).then(
        () => void published++,
        () => void dropped++,
      );
    },
    subscribe<C extends BusChannel>(channel: C, handler: (message: BusMessages[C]) => void) {
      const name = prefix + channel;
      let set = handlers.get(name);
      if (!set) {
        set = new Set();
        handlers.set(name, set);
        subscriber
          .subscribe(name)
          .catch((error: unknown) => logger.warn({ err: error, channel: name }, 'bus subscribe failed'));
      }
      set.add(handler);
      return () => void set.delete(handler);
    },
    healthy: () => isRedisReady(publisher) && isRedisReady(subscriber),
    stats: () => ({ published, received, dropped, malformed }),
    async close() {
      handlers.clear();
    },
  };
}
