/** The in-process bus (REDIS_URL unset): handlers run on the next microtask, as a remote message would arrive later. */
import { EventEmitter } from 'node:events';
import type { Bus, BusChannel, BusMessages } from '../../ports/bus.js';

export function createMemoryBus(): Bus {
  const emitter = new EventEmitter();
  let published = 0;
  let received = 0;
  return {
    driver: 'memory',
    publish(channel, message) {
      published++;
      queueMicrotask(() => emitter.emit(channel, message));
    },
    subscribe<C extends BusChannel>(channel: C, handler: (message: BusMessages[C]) => void) {
      const listener = (message: BusMessages[C]) => {
        received++;
        handler(message);
      };
      emitter.on(channel, listener);
      return () => void emitter.off(channel, listener);
    },
    healthy: () => true,
    stats: () => ({ published, received, dropped: 0, malformed: 0 }),
    async close() {
      emitter.removeAllListeners();
    },
  };
}
