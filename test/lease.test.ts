/**
 * The ingestion lease against a real throwaway redis-server, with short timings: one holder at a
 * time, hand-over on release and on a lapse, stepping down when fenced, holding on through a
 * Redis restart, letting go when taking over fails, and bidding again only after a hold-off; ingestion
 * under the lease handing it on when its link hears nothing from Binance; and the fenced store that
 * tells the holder when its token was superseded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../src/adapters/redis/connection.js';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { createAcceleratedClock, createSimulatedExchange } from '../src/binance/simulator/index.js';
import { MINUTE_MS } from '../src/domain/intervals.js';
import { FencedError } from '../src/domain/errors.js';
import { buildLiveLink, fenceWrites } from '../src/market/build-live-link.js';
import { INGEST_FENCE, createIngestion, type Ingestion } from '../src/scale/ingestion.js';
import { createLease, type Lease, type LeaseCallbacks } from '../src/scale/lease.js';
import { freePort } from './helpers/free-port.js';
import { CLOCK_START, FAST_LINK_TIMINGS, SPEED } from './helpers/live-harness.js';
import { startRedisServer, type RedisServer } from './helpers/redis-server.js';
import { waitUntil } from './helpers/service-checks.js';

const logger = pino({ level: 'silent' });
const TTL_MS = 600;
const RENEW_MS = 100;
const ACQUIRE_MS = 100;

describe('ingestion lease', () => {
  let redis: RedisServer;
  const connections: ReturnType<typeof createRedisConnection>[] = [];
  const leases: Lease[] = [];
  let keys = 0;

  const newKey = () => `lease-${++keys}`;
  const connect = (name: string) => {
    const connection = createRedisConnection(redis.url, { name, logger });
    connections.push(connection);
    return connection;
  };
  const holding = (lease: Lease) => async () => lease.status().holding;
  /** A lease with the test's short timings, on a connection of its own. */
  const leaseOn = (key: string, holderId: string, callbacks: LeaseCallbacks) => {
    const connection = connect(holderId);
    const lease = createLease({
      redis: connection,
      key,
      holderId,
      logger,
      ttlMs: TTL_MS,
      renewIntervalMs: RENEW_MS,
      acquireIntervalMs: ACQUIRE_MS,
      ...callbacks,
    });
    return { lease, connection };
  };
  /**
   * A lease on a connection of its own, started, and by default once it holds. Its events record
   * each take-over that succeeded (`onAcquired`, by default a no-op, resolved) and each loss.
   */
  const startLease = async (
    key: string,
    holderId: string,
    options: { readonly awaitHolding?: boolean; readonly onAcquired?: () => Promise<void> } = {},
  ) => {
    const events: string[] = [];
    const { lease, connection } = leaseOn(key, holderId, {
      onAcquired: async () => {
        await options.onAcquired?.();
        events.push('acquired');
      },
      onLost: async (reason) => void events.push(`lost: ${reason}`),
    });
    leases.push(lease);
    lease.start();
    if (options.awaitHolding ?? true) await waitUntil(`${holderId} holds`, holding(lease), 5000);
    return { lease, events, connection };
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const lease of leases) await lease.stop();
    for (const connection of connections) connection.disconnect();
    await redis.stop();
  });

  it('has one holder at a time and hands over at once when the holder stops', async () => {
    const key = newKey();
    const a = await startLease(key, 'a');
    const b = await startLease(key, 'b', { awaitHolding: false });
    await sleep(TTL_MS * 2);
    expect(b.lease.status().holding).toBe(false);
    await a.lease.stop();
    expect(a.events).toEqual(['acquired', 'lost: stopping']);
    await waitUntil('b holds', holding(b.lease), ACQUIRE_MS * 50);
  });

  it('leaves the key free when stopped while a claim that takes it is still on its way', async () => {
    const key = newKey();
    const events: string[] = [];
    const { lease, connection } = leaseOn(key, 'stopped-bidder', {
      onAcquired: async () => void events.push('acquired'),
      onLost: async (reason) => void events.push(`lost: ${reason}`),
    });
    leases.push(lease);
    const probe = connect('probe');
    const ready = (client: typeof probe) => async () => client.status === 'ready';
    await waitUntil('connections ready', async () => (await ready(probe)()) && ready(connection)(), 5000);
    // A frozen Redis holds the first claim; stop() comes while it waits, then Redis answers it.
    redis.freeze();
    lease.start();
    await sleep(100);
    const stopped = lease.stop();
    await sleep(200);
    redis.resume();
    await stopped;
    expect(events).toEqual([]);
    expect(await probe.get(key)).toBeNull();
  });

  it('lets another take over once a holder stops renewing, and the old holder steps down when fenced', async () => {
    const key = newKey();
    const a = await startLease(key, 'a');
    const b = await startLease(key, 'b', { awaitHolding: false });
    // A holder that can no longer reach Redis keeps its belief; its key lapses and B takes it.
    a.connection.disconnect();
    await waitUntil('b holds', holding(b.lease), TTL_MS * 5);
    expect(a.lease.status().holding).toBe(true);
    // The store refusing A's token is what makes it step down.
    a.lease.lose('fenced');
    await waitUntil('a stepped down', async () => !a.lease.status().holding, 2000);
    expect(a.events).toEqual(['acquired', 'lost: fenced']);
  });

  it('keeps the lease through a Redis restart that lost the key', async () => {
    const key = newKey();
    const a = await startLease(key, 'a');
    await redis.kill();
    await sleep(RENEW_MS * 3);
    expect(a.lease.status().holding).toBe(true);
    await redis.start();
    const probe = connect('probe');
    await waitUntil('the key is ours again', async () => (await probe.get(key)) === 'a', 10_000);
    expect(a.events).toEqual(['acquired']);
  });

  it('leaves the lease with its holder when Redis restarts empty while another instance bids often', async () => {
    const key = newKey();
    const probe = connect('probe');
    // A renews once a second; B bids every 20 ms, so it would take a free key long before A renews.
    const a = createLease({
      redis: connect('a'),
      key,
      holderId: 'a',
      logger,
      ttlMs: 3000,
      renewIntervalMs: 1000,
      onAcquired: async () => undefined,
      onLost: async () => undefined,
    });
    const b = createLease({
      redis: connect('b'),
      key,
      holderId: 'b',
      logger,
      ttlMs: 3000,
      acquireIntervalMs: 20,
      onAcquired: async () => undefined,
      onLost: async () => undefined,
    });
    leases.push(a, b);
    a.start();
    await waitUntil('a holds', holding(a), 5000);
    b.start();
    for (let restart = 1; restart <= 3; restart++) {
      await redis.kill();
      await sleep(300);
      await redis.start();
      await waitUntil(
        `the key is held again after restart ${restart}`,
        async () => (await probe.get(key)) !== null,
        10_000,
      );
      expect(await probe.get(key), `restart ${restart}`).toBe('a');
    }
    expect(a.status()).toMatchObject({ holding: true, acquisitions: 1 });
    expect(b.status()).toMatchObject({ holding: false, acquisitions: 0 });
  });

  it('takes the lease as soon as Redis first answers when it started before Redis', async () => {
    const key = newKey();
    await redis.kill();
    // A long TTL: were the first connection taken for a reconnection, it would wait 30 s to bid.
    const a = createLease({
      redis: connect('a'),
      key,
      holderId: 'a',
      logger,
      ttlMs: 30_000,
      acquireIntervalMs: ACQUIRE_MS,
      onAcquired: async () => undefined,
      onLost: async () => undefined,
    });
    leases.push(a);
    a.start();
    await sleep(300);
    await redis.start();
    await waitUntil('a holds', holding(a), 10_000);
  });

  it('releases the lease when taking over fails, and takes it at a later attempt that succeeds', async () => {
    const key = newKey();
    const probe = connect('probe');
    // As when the store is busy and `advanceFence` rejects: A's take-over fails while `failing`.
    let failing = true;
    let failures = 0;
    const a = await startLease(key, 'a', {
      awaitHolding: false,
      onAcquired: async () => {
        if (!failing) return;
        failures++;
        throw new Error('SQLITE_BUSY: database is locked');
      },
    });
    await waitUntil('a failed to take over', async () => failures >= 1, 5000);
    // A does not hold on to a key it cannot ingest under: it is free for B to take.
    const b = await startLease(key, 'b', { awaitHolding: false });
    await waitUntil('b holds', holding(b.lease), TTL_MS * 5);
    expect(await probe.get(key)).toBe('b');
    expect(a.lease.status()).toMatchObject({ holding: false, acquisitions: 0 });
    expect(a.events).toEqual([]);
    // Once taking over works again, A takes the lease at its next attempt after B hands it over.
    failing = false;
    await b.lease.stop();
    await waitUntil('a holds', holding(a.lease), ACQUIRE_MS * 50);
    expect(await probe.get(key)).toBe('a');
    expect(a.lease.status()).toMatchObject({ holding: true, acquisitions: 1 });
    expect(a.events).toEqual(['acquired']);
    expect(b.events).toEqual(['acquired', 'lost: stopping']);
  });

  it('bids again only once the hold-off of a loss has passed, even with nobody else bidding', async () => {
    const holdOffMs = 3000;
    const a = await startLease(newKey(), 'a');
    a.lease.lose('silent link', { holdOffMs });
    await waitUntil('a stepped down', async () => !a.lease.status().holding, 2000);
    // The key is free and the usual bid would come after ACQUIRE_MS: the hold-off keeps A back.
    await sleep(holdOffMs / 3);
    expect(a.lease.status().holding).toBe(false);
    await waitUntil('a holds again', holding(a.lease), holdOffMs * 5);
    expect(a.events).toEqual(['acquired', 'lost: silent link', 'acquired']);
  });

  describe('ingestion under the lease', () => {
    /**
     * Simulated ms, on the exchange's clock at SPEED (2 real seconds): frames come every simulated
     * second (17 real ms), so a link that hears the exchange never looks silent on a loaded machine.
     */
    const SILENT_LINK_YIELD_MS = 2 * MINUTE_MS;
    /** Real ms. */
    const HOLD_OFF_MS = 1000;
    const real = (simulatedMs: number) => simulatedMs / SPEED;

    it('hands the lease to an instance that reaches Binance when its own link hears nothing', async () => {
      const key = newKey();
      const clock = createAcceleratedClock({ start: CLOCK_START, speed: SPEED });
      const now = () => clock.now();
      const exchange = await createSimulatedExchange({ clock, symbols: ['BTCUSDT', 'ETHUSDT'], seed: 3 });
      // A's path to the exchange is cut (nothing listens there); B's is fine. Both share one store.
      const unreachable = `127.0.0.1:${await freePort()}`;
      const store = new SqliteStore({ path: ':memory:' });
      const ingestions: Ingestion[] = [];
      const startIngestion = (holderId: string, urls: { wsUrl: string; restUrl: string }): Ingestion => {
        const ingestion = createIngestion({
          store,
          logger,
          now,
          silentLinkYieldMs: SILENT_LINK_YIELD_MS,
          silenceCheckIntervalMs: 100,
          yieldHoldOffMs: HOLD_OFF_MS,
          lease: (callbacks) => leaseOn(key, holderId, callbacks).lease,
          build: (fence, onFenced) =>
            buildLiveLink(
              {
                ...urls,
                symbols: ['BTCUSDT'],
                trackTop: 242,
                lookbackMs: 5 * MINUTE_MS,
                ...FAST_LINK_TIMINGS,
              },
              { store, logger, now, fence, onFenced },
            ),
        });
        ingestions.push(ingestion);
        ingestion.start();
        return ingestion;
      };
      const role = (ingestion: Ingestion) => ingestion.ingestion().role;
      try {
        const a = startIngestion('a', { wsUrl: `ws://${unreachable}`, restUrl: `http://${unreachable}` });
        await waitUntil('a ingests', async () => role(a) === 'ingesting', 5000);
        const b = startIngestion('b', { wsUrl: exchange.wsUrl, restUrl: exchange.restUrl });
        await waitUntil('b ingests', async () => role(b) === 'ingesting', real(SILENT_LINK_YIELD_MS) * 5);
        expect(role(a)).toBe('standby');
        // B's link hears the exchange and its writes land in the shared store.
        await waitUntil(
          'b stores prices',
          async () =>
            (await store.listPriceSamples({ symbol: 'BTCUSDT', limit: 1, order: 'asc' })).length > 0,
          10_000,
        );
        // A link that hears the exchange keeps the lease: A's bids after its hold-off find it held.
        await sleep(real(SILENT_LINK_YIELD_MS) * 3);
        expect(role(b)).toBe('ingesting');
        expect(role(a)).toBe('standby');
        expect(b.ingestion().lease).toMatchObject({ holding: true, acquisitions: 1 });
        expect(a.ingestion().lease).toMatchObject({ holding: false, acquisitions: 1 });
      } finally {
        for (const ingestion of ingestions) await ingestion.stop();
        await exchange.close();
        await store.close();
      }
    });
  });
});

describe('fenced ingestion writes', () => {
  it('refuses writes once a newer token was handed out, and says so to the holder', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const token = await store.advanceFence(INGEST_FENCE);
    let fenced = 0;
    const writes = fenceWrites(store, { name: INGEST_FENCE, token }, () => void fenced++);
    const sample = { symbol: 'BTCUSDT', price: '1', timestamp: Date.parse('2026-01-01T00:00:00Z') };
    await writes.insertPriceSamples([sample]);
    expect(fenced).toBe(0);
    await store.advanceFence(INGEST_FENCE); // a successor took over
    await expect(
      writes.insertPriceSamples([{ ...sample, timestamp: sample.timestamp + 1000 }]),
    ).rejects.toThrow(FencedError);
    expect(fenced).toBe(1);
    expect(await writes.listPriceSamples({ symbol: 'BTCUSDT', limit: 10, order: 'asc' })).toEqual([sample]);
    await store.close();
  });
});
