/**
 * Session closes across instances (issue 6): two instances of the real app, each with its own
 * Socket.IO clients, share a bus over a throwaway redis-server and one accelerated clock. The
 * ingesting instance announces a close on the bus once it has stored the session's last candle,
 * and every instance pushes `interval_data` to its own subscribers on hearing it; with the bus
 * down, an instance pushes after waiting for the announcement in vain. Over the same Redis, one
 * instance stopping lets go of its own Socket.IO clients only.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAcceleratedClock } from '../src/binance/simulator/index.js';
import { HOUR_MS, MINUTE_MS } from '../src/domain/intervals.js';
import { sessionCloseChannel, type SessionPushStatus } from '../src/realtime/session-push.js';
import { createPlatform, type Platform } from '../src/scale/platform.js';
import { startRedisServer, type RedisServer } from './helpers/redis-server.js';
import {
  SPEED,
  ask,
  nextEvent,
  startRealtimeHarness,
  type RealtimeHarness,
} from './helpers/realtime-harness.js';

const BOUNDARY = Date.parse('2026-01-01T05:00:00Z');
/** Simulated time before the boundary when the instances start: ten real seconds at SPEED. */
const LEAD_MS = 10 * MINUTE_MS;
/** History back to the closing 01:00 session's open: one starting inside it is not shown once closed. */
const LOOKBACK_MS = 5 * HOUR_MS;
/** Long enough that a push within the test cannot be the fallback's. */
const NEVER_MS = 120_000;

async function sessionCloses(h: RealtimeHarness): Promise<SessionPushStatus> {
  const response = await fetch(`${h.url}/api/v1/system/status`);
  const body = (await response.json()) as { data: { realtime: { sessionCloses: SessionPushStatus } } };
  return body.data.realtime.sessionCloses;
}

/**
 * A throwaway redis-server for the calling `describe`, platforms (cache, bus, Socket.IO adapter)
 * made on it, and the harnesses to stop before it goes: instances of one deployment.
 */
function instancesOnOneRedis() {
  let server: RedisServer | undefined;
  const platforms: Platform[] = [];
  const harnesses: RealtimeHarness[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    for (const h of harnesses) await h.stop();
    for (const p of platforms) await p.close();
    await server?.stop();
  });
  const redis = (): RedisServer => {
    if (!server) throw new Error('redis-server not started yet');
    return server;
  };
  const platform = (): Platform => {
    const created = createPlatform({
      redisUrl: redis().url,
      logger: pino({ level: 'silent' }),
      now: Date.now,
      historyOnSubscribeMs: HOUR_MS,
    });
    platforms.push(created);
    return created;
  };
  return { redis, platform, harnesses };
}

describe('session closes across instances', () => {
  const { redis, platform, harnesses } = instancesOnOneRedis();

  it('pushes a close on every instance when the ingesting one announces it on the bus', async () => {
    const clock = createAcceleratedClock({ start: BOUNDARY - LEAD_MS, speed: SPEED });
    const [a, b] = [platform(), platform()];
    const [ingesting, other] = await Promise.all([
      startRealtimeHarness(0, {
        clock,
        cache: a.cache,
        sessionCloses: sessionCloseChannel(a.bus, () => true),
        sessionAnnounceWaitMs: NEVER_MS,
        lookbackMs: LOOKBACK_MS,
      }),
      startRealtimeHarness(0, {
        clock,
        cache: b.cache,
        sessionCloses: sessionCloseChannel(b.bus, () => false),
        sessionAnnounceWaitMs: NEVER_MS,
        lookbackMs: LOOKBACK_MS,
      }),
    ]);
    harnesses.push(ingesting, other);
    const onOther = other.client();
    const onIngesting = ingesting.client();
    await ask(onOther, 'subscribe', { symbol: 'ETHUSDT' });
    await ask(onIngesting, 'subscribe', { symbol: 'ETHUSDT' });
    expect(clock.now()).toBeLessThan(BOUNDARY); // subscribed before the session closed

    const [pushedOnOther, pushedOnIngesting] = await Promise.all([
      nextEvent(onOther, 'interval_data', () => true, 15_000),
      nextEvent(onIngesting, 'interval_data', () => true, 15_000),
    ]);
    const [closed] = pushedOnOther.intervals;
    expect(closed).toMatchObject({
      openTime: Date.parse('2026-01-01T01:00:00Z'),
      closeTime: BOUNDARY - 1,
      closed: true,
    });
    const lastMinute = other.exchange.market.trueKline('ETHUSDT', BOUNDARY - MINUTE_MS);
    expect(closed!.close).toBe(Number.parseFloat(lastMinute!.close));
    expect(pushedOnIngesting.intervals[0]).toEqual(closed);
    // Before announcing, the ingesting instance shared every active symbol's closed session
    // through the cache, subscribed anywhere or not, for the other instances' pushes.
    expect(await b.cache.getSession('SOLUSDT', closed!.openTime)).toMatchObject({
      closeTime: BOUNDARY - 1,
      closed: true,
    });
    // Both pushed on the announcement; neither waited for its fallback.
    expect(await sessionCloses(other)).toEqual({ pushed: 1, unannounced: 0, refusedAnnouncements: 0 });
    expect(await sessionCloses(ingesting)).toEqual({ pushed: 1, unannounced: 0, refusedAnnouncements: 0 });
  }, 40_000);

  it('still pushes a close when the bus is down, once the wait for the announcement is over', async () => {
    const clock = createAcceleratedClock({ start: BOUNDARY - LEAD_MS, speed: SPEED });
    const h = await startRealtimeHarness(0, {
      clock,
      sessionCloses: sessionCloseChannel(platform().bus, () => true),
      sessionAnnounceWaitMs: 1500,
      lookbackMs: LOOKBACK_MS,
    });
    harnesses.push(h);
    const client = h.client();
    await ask(client, 'subscribe', { symbol: 'BTCUSDT' });
    await redis().kill();
    expect(clock.now()).toBeLessThan(BOUNDARY);

    const pushed = await nextEvent(client, 'interval_data', () => true, 15_000);
    expect(pushed.intervals[0]).toMatchObject({ closeTime: BOUNDARY - 1, closed: true });
    expect(await sessionCloses(h)).toEqual({ pushed: 1, unannounced: 1, refusedAnnouncements: 0 });
  }, 40_000);
});

describe('Socket.IO across instances', () => {
  const { platform, harnesses } = instancesOnOneRedis();

  it('leaves the clients of the other instances connected and served when one instance stops', async () => {
    const clock = createAcceleratedClock({ start: BOUNDARY - 2 * HOUR_MS, speed: SPEED });
    const [a, b] = [platform(), platform()];
    const [stopped, staying] = await Promise.all([
      startRealtimeHarness(0, { clock, cache: a.cache, adapter: a.socketAdapter }),
      startRealtimeHarness(0, { clock, cache: b.cache, adapter: b.socketAdapter }),
    ]);
    harnesses.push(stopped, staying);
    const onStopped = stopped.client();
    const onStaying = staying.client();
    await ask(onStopped, 'subscribe', { symbol: 'ETHUSDT' });
    await ask(onStaying, 'subscribe', { symbol: 'ETHUSDT' });
    const disconnects: string[] = [];
    onStaying.on('disconnect', (reason) => disconnects.push(reason));
    const leftStopped = new Promise((resolve) => onStopped.once('disconnect', resolve));

    await stopped.stop(); // a rolling deploy or a scale-in: its own clients are let go
    expect(await leftStopped).toBe('io server disconnect');
    // The other instance's client keeps its connection and its updates.
    await nextEvent(onStaying, 'price_update', (update) => update.symbol === 'ETHUSDT', 5000);
    expect(disconnects).toEqual([]);
    expect(onStaying.connected).toBe(true);
  }, 40_000);
});
