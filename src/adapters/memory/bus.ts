/**
 * The in-process bus (REDIS_URL unset): handlers run on a later microtask, as a remote message would
 * arrive later, and as on Redis a handler that throws is logged without reaching the publisher or
 * the other handlers. `received` counts messages, not handlers, as on Redis.
 */
import type { Logger } from 'pino';
import type { Bus, BusChannel, BusMessages } from '../../ports/bus.js';

type Handler = (message: never) => void;

export function createMemoryBus(logger: Logger): Bus {
  const handlers = new Map<BusChannel, Set<Handler>>();
  let published = 0;
  let received = 0;
  const deliver = (channel: BusChannel, message: unknown): void => {
    const set = handlers.get(channel);
    if (!set || set.size === 0) return;
    received++;
    for (const handler of set) {
      try {
        handler(message as never);
      } catch (error) {
        logger.error({ err: error, channel }, 'bus handler failed');
      }
    }
  };
  return {
    driver: 'memory',
    publish(channel, message) {
      published++;
      queueMicrotask(() => deliver(channel, message));
    },
    subscribe<C extends BusChannel>(channel: C, handler: (message: BusMessages[C]) => void) {
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
      }
      set.add(handler);
      return () => void set.delete(handler);
    },
    healthy: () => true,
    stats: () => ({ published, received, dropped: 0, malformed: 0 }),
    async close() {
      handlers.clear();
    },
  };
}
