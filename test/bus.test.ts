/**
 * The bus port (issue 6): in-process, and over Redis pub/sub against a throwaway redis-server.
 * Every instance hears every message, its own included; a message that is not of its channel's
 * shape (another program on the channel) is ignored and counted; while Redis is down a message is
 * dropped and counted, never queued, and subscriptions come back by themselves.
 */
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../src/adapters/memory/bus.js';
import { DEFAULT_BUS_PREFIX, createRedisBus } from '../src/adapters/redis/bus.js';
import { REDIS_SOCKET_TIMEOUT_MS, createRedisConnection } from '../src/adapters/redis/connection.js';
import type { PriceQuote } from '../src/domain/price.js';
import type { Bus, BusChannel, BusMessages } from '../src/ports/bus.js';
import { startRedisServer, type RedisServer } from './helpers/redis-server.js';
import { waitUntil } from './helpers/service-checks.js';

const logger = pino({ level: 'silent' });

const QUOTE: PriceQuote = {
  symbol: 'BTCUSDT',
  price: '97000.01',
  timestamp: 1_767_225_600_000,
  open24h: '96000.00',
  high24h: '98000.00',
  low24h: '95000.00',
  volume24h: '1234.5',
  quoteVolume24h: '119000000.5',
};

function listen<C extends BusChannel>(bus: Bus, channel: C): BusMessages[C][] {
  const heard: BusMessages[C][] = [];
  bus.subscribe(channel, (message) => heard.push(message));
  return heard;
}

/** A logger whose error lines the test reads. */
function recordingLogger(): { logger: Logger; errors: () => string[] } {
  const lines: string[] = [];
  return {
    logger: pino({ level: 'error' }, { write: (line: string) => void lines.push(line) }),
    errors: () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg),
  };
}

/**
 * What every bus does, whichever carries it: `make` builds a bus logging to `logger`, `ready`
 * resolves once its subscriptions to `channel` are live.
 */
function busContract(
  make: (logger: Logger) => Bus,
  ready: (channel: BusChannel, subscribers: number) => Promise<void>,
): void {
  it('logs a handler that throws, and its other handlers and later messages are still heard', async () => {
    const { logger: recording, errors } = recordingLogger();
    const bus = make(recording);
    bus.subscribe('symbols', () => {
      throw new Error('a handler bug');
    });
    const heard = listen(bus, 'symbols');
    await ready('symbols', 1);
    bus.publish('symbols', { changed: ['BTCUSDT'] });
    bus.publish('symbols', { changed: ['ETHUSDT'] });
    await waitUntil('both heard', async () => heard.length === 2, 5000);
    expect(heard).toEqual([{ changed: ['BTCUSDT'] }, { changed: ['ETHUSDT'] }]);
    expect(errors()).toEqual(['bus handler failed', 'bus handler failed']);
  });

  it('counts a message received once, however many handlers hear it', async () => {
    const bus = make(logger);
    const first = listen(bus, 'sessions');
    const second = listen(bus, 'sessions');
    await ready('sessions', 1);
    bus.publish('sessions', { closedOpenTime: 1_767_225_600_000 });
    await waitUntil('heard', async () => first.length === 1 && second.length === 1, 5000);
    expect(bus.stats()).toMatchObject({ published: 1, received: 1 });
  });
}

describe('in-process bus', () => {
  busContract(
    (log) => createMemoryBus(log),
    async () => undefined,
  );

  it('delivers every message to every subscriber, in order, after the publishing call returns', async () => {
    const bus = createMemoryBus(logger);
    const first = listen(bus, 'symbols');
    const second = listen(bus, 'symbols');
    bus.publish('symbols', { changed: ['BTCUSDT'] });
    bus.publish('symbols', { changed: ['ETHUSDT'] });
    expect(first).toEqual([]); // as a remote message would, it arrives later
    await Promise.resolve();
    expect(first).toEqual([{ changed: ['BTCUSDT'] }, { changed: ['ETHUSDT'] }]);
    expect(second).toEqual(first);
    await bus.close();
  });
});

describe('bus over Redis pub/sub', () => {
  let redis: RedisServer;
  const buses: Bus[] = [];
  const connections: Redis[] = [];
  const busOnRedis = (): Bus => {
    const publisher = createRedisConnection(redis.url, { name: 'publisher', logger });
    const subscriber = createRedisConnection(redis.url, { name: 'subscriber', logger, subscriber: true });
    connections.push(publisher, subscriber);
    const bus = createRedisBus({ publisher, subscriber, logger });
    buses.push(bus);
    return bus;
  };
  /** Subscriptions are live once Redis counts a subscriber on the channel for each bus. */
  const subscribed = (channel: BusChannel, count: number) =>
    subscribedTo(DEFAULT_BUS_PREFIX + channel, count);
  const subscribedTo = async (name: string, count: number) => {
    const probe = new Redis(redis.url);
    try {
      await waitUntil(
        `${count} subscribers on ${name}`,
        async () => {
          const [, subscribers] = (await probe.pubsub('NUMSUB', name)) as [string, number];
          return subscribers >= count;
        },
        5000,
      );
    } finally {
      probe.disconnect();
    }
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  // Each contract test makes one bus: the channel's subscribers are the earlier tests' and its own.
  let contractBuses = 0;
  busContract(
    (log) => {
      const publisher = createRedisConnection(redis.url, { name: 'publisher', logger });
      const subscriber = createRedisConnection(redis.url, { name: 'subscriber', logger, subscriber: true });
      connections.push(publisher, subscriber);
      const bus = createRedisBus({
        publisher,
        subscriber,
        logger: log,
        prefix: `contract${contractBuses++}:`,
      });
      buses.push(bus);
      return bus;
    },
    async (channel) => subscribedTo(`contract${contractBuses - 1}:${channel}`, 1),
  );
  afterAll(async () => {
    for (const bus of buses) await bus.close();
    for (const connection of connections) connection.disconnect();
    await redis.stop();
  });

  it('delivers one instance’s messages to every instance, its own included, in order', async () => {
    const a = busOnRedis();
    const b = busOnRedis();
    const onA = listen(a, 'prices');
    const onB = listen(b, 'prices');
    await subscribed('prices', 2);
    const later = { ...QUOTE, timestamp: QUOTE.timestamp + 1000, price: '97001.00' };
    a.publish('prices', { quotes: [QUOTE] });
    a.publish('prices', { quotes: [later] });
    await waitUntil('both heard both', async () => onA.length === 2 && onB.length === 2, 5000);
    expect(onB).toEqual([{ quotes: [QUOTE] }, { quotes: [later] }]);
    expect(onA).toEqual(onB);
    expect(a.stats()).toMatchObject({ published: 2, received: 2, dropped: 0 });
  });

  it('carries the quotes and changes of every symbol Binance names, non-ASCII and long ones too', async () => {
    const bus = busOnRedis();
    const prices = listen(bus, 'prices');
    const symbols = listen(bus, 'symbols');
    await subscribed('prices', 1);
    await subscribed('symbols', 1);
    const names = ['币安人生USDT', 'ABCDEFGHIJKLMNOPQRSTUSDT'];
    bus.publish('prices', { quotes: [QUOTE, ...names.map((symbol) => ({ ...QUOTE, symbol }))] });
    bus.publish('symbols', { changed: names });
    await waitUntil('both heard', async () => prices.length === 1 && symbols.length === 1, 5000);
    expect(prices[0]?.quotes.map((quote) => quote.symbol)).toEqual([QUOTE.symbol, ...names]);
    expect(symbols).toEqual([{ changed: names }]);
    expect(bus.stats().malformed).toBe(0);
  });

  it('ignores and counts a message not of its channel’s shape, and goes on with the next', async () => {
    const bus = busOnRedis();
    const heard = listen(bus, 'sessions');
    let symbolsHeard = 0;
    bus.subscribe('symbols', () => symbolsHeard++);
    await subscribed('sessions', 1);
    await subscribed('symbols', 1);
    const stranger = new Redis(redis.url);
    try {
      // Another program on the same channels: not JSON, the wrong shape, a hostile payload.
      await stranger.publish(`${DEFAULT_BUS_PREFIX}sessions`, 'not json');
      await stranger.publish(`${DEFAULT_BUS_PREFIX}sessions`, JSON.stringify({ closedOpenTime: 'soon' }));
      await stranger.publish(`${DEFAULT_BUS_PREFIX}symbols`, JSON.stringify({ changed: 'BTCUSDT' }));
      await stranger.publish(
        `${DEFAULT_BUS_PREFIX}prices`,
        JSON.stringify({ quotes: [{ ...QUOTE, price: { $gt: '' } }] }),
      );
      await stranger.publish(
        `${DEFAULT_BUS_PREFIX}sessions`,
        JSON.stringify({ closedOpenTime: 1_767_225_600_000 }),
      );
    } finally {
      stranger.disconnect();
    }
    await waitUntil('the valid message heard', async () => heard.length === 1, 5000);
    expect(heard).toEqual([{ closedOpenTime: 1_767_225_600_000 }]);
    expect(symbolsHeard).toBe(0);
    expect(bus.stats().malformed).toBe(3);
  });

  it('sends nothing published after the first socket timeout of a freeze once Redis thaws: no queue grows while it is frozen', async () => {
    const bus = busOnRedis();
    const heard = listen(bus, 'symbols');
    await subscribed('symbols', 1);
    const FROZEN_MS = 3 * REDIS_SOCKET_TIMEOUT_MS;
    redis.freeze();
    const frozenAt = Date.now();
    let sent = 0;
    try {
      while (Date.now() - frozenAt < FROZEN_MS) {
        bus.publish('symbols', { changed: [`T${Date.now() - frozenAt}USDT`] });
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      redis.resume();
    }
    await waitUntil('healthy again', async () => bus.healthy(), 10_000);
    await waitUntil(
      'heard after the freeze',
      async () => {
        bus.publish('symbols', { changed: ['AFTERUSDT'] });
        return heard.some(({ changed }) => changed.includes('AFTERUSDT'));
      },
      10_000,
    );
    // A frozen Redis keeps its connections open: without a socket timeout each message waited on
    // the socket and all arrived at the thaw. Those written before the connection was dropped sit
    // in Redis's socket buffer and still run; none published after.
    const replayed = heard
      .flatMap(({ changed }) => changed)
      .map((symbol) => /^T(\d+)USDT$/.exec(symbol)?.[1])
      .filter((ms) => ms !== undefined)
      .map(Number);
    expect(sent).toBeGreaterThan(20);
    expect(replayed.filter((ms) => ms > REDIS_SOCKET_TIMEOUT_MS + 500)).toEqual([]);
  }, 30_000);

  it('drops and counts what is published while Redis is down, and hears again once it is back', async () => {
    const bus = busOnRedis();
    const heard = listen(bus, 'symbols');
    await subscribed('symbols', 1);
    await redis.kill();
    await waitUntil('unhealthy', async () => !bus.healthy(), 5000);
    bus.publish('symbols', { changed: ['LOSTUSDT'] });
    expect(bus.stats().dropped).toBe(1);
    await redis.start();
    await waitUntil('healthy again', async () => bus.healthy(), 10_000);
    // Re-subscribed by itself after the reconnect: published until heard, as the subscriber
    // connection may come back a moment after the publisher.
    await waitUntil(
      'heard after the outage',
      async () => {
        bus.publish('symbols', { changed: ['BACKUSDT'] });
        return heard.length > 0;
      },
      10_000,
    );
    expect(heard[0]).toEqual({ changed: ['BACKUSDT'] });
    expect(heard.some(({ changed }) => changed.includes('LOSTUSDT'))).toBe(false);
  }, 30_000);
});
