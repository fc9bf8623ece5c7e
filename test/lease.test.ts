/**
 * The ingestion lease against a real throwaway redis-server, with short timings: one holder at a
 * time, hand-over on release and on a lapse, stepping down when fenced, holding on through a
 * Redis restart, and letting go when taking over fails; and the fenced store that tells the holder when its token was superseded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../src/adapters/redis/connection.js';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { FencedError } from '../src/domain/errors.js';
import { fenceWrites } from '../src/market/build-live-link.js';
import { INGEST_FENCE } from '../src/scale/ingestion.js';
import { createLease, type Lease } from '../src/scale/lease.js';
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
  /**
   * A lease on a connection of its own, started, and by default once it holds. Its events record
   * each take-over that succeeded (`onAcquired`, by default a no-op, resolved) and each loss.
   */
  const startLease = async (
    key: string,
    holderId: string,
    options: { readonly awaitHolding?: boolean; readonly onAcquired?: () => Promise<void> } = {},
  ) => {
    const connection = connect(holderId);
    const events: string[] = [];
    const lease = createLease({
      redis: connection,
      key,
      holderId,
      logger,
      ttlMs: TTL_MS,
      renewIntervalMs: RENEW_MS,
      acquireIntervalMs: ACQUIRE_MS,
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
    await waitUntil('b holds', holding(b.lease), ACQUIRE_MS * 10);
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
    await waitUntil('a holds', holding(a.lease), ACQUIRE_MS * 10);
    expect(await probe.get(key)).toBe('a');
    expect(a.lease.status()).toMatchObject({ holding: true, acquisitions: 1 });
    expect(a.events).toEqual(['acquired']);
    expect(b.events).toEqual(['acquired', 'lost: stopping']);
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
