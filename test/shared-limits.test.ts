/**
 * Login attempt counters shared through Redis (issue 6): two instances on one Redis count one
 * account's attempts together, and a Redis that cannot answer lets attempts through rather than
 * locking everyone out.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_ATTEMPTS_PER_ACCOUNT } from '../src/http/rate-limits.js';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { login, registerUser } from './helpers/http.js';
import { readyRedisConnection, startRedisServer, type RedisServer } from './helpers/redis-server.js';

describe('attempt counters in Redis', () => {
  let redis: RedisServer;
  const apps: TestApp[] = [];
  const connections: Redis[] = [];
  const open = async (store: SqliteStore): Promise<TestApp> => {
    const connection = await readyRedisConnection(redis.url, 'test');
    connections.push(connection);
    const app = await createTestApp({ store, attemptCounters: connection });
    apps.push(app);
    return app;
  };
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const t of apps) await t.app.close();
    for (const connection of connections) connection.disconnect();
    await redis.stop();
  });

  it("counts one account's login attempts across instances, and lets attempts through while Redis is down", async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const a = await open(store);
    const b = await open(store);
    const { user, password } = await registerUser(a.app);
    for (let attempt = 0; attempt < LOGIN_ATTEMPTS_PER_ACCOUNT; attempt++) {
      const on = attempt % 2 === 0 ? a : b;
      expect((await login(on.app, user.email, `guess-${attempt}`, `10.30.0.${attempt}`)).status).toBe(401);
    }
    // Half the attempts went to each instance; together they used up the account's budget.
    expect((await login(a.app, user.email, password, '10.30.1.1')).status).toBe(429);
    expect((await login(b.app, user.email, password, '10.30.1.2')).status).toBe(429);

    await redis.kill();
    expect((await login(a.app, user.email, password, '10.30.1.3')).status).toBe(200);
    await redis.start();
  });
});
