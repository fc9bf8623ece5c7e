/**
 * The service's Redis connections against a throwaway redis-server that requires a password: a
 * refused password is logged as an outage, never echoed (ioredis attaches the failed command,
 * `HELLO 3 AUTH default <password>`, to its error).
 */
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../src/domain/intervals.js';
import { createLogger } from '../src/logger.js';
import { createPlatform } from '../src/scale/platform.js';
import { startRedisServer, type RedisServer } from './helpers/redis-server.js';

const RIGHT_PASSWORD = 'the-right-password-0123';
const WRONG_PASSWORD = 'a-wrong-password-never-logged-4567';
/** Bounded wait for the connections' first log lines, in ms. */
const LOG_WAIT_MS = 5000;

describe('Redis connections', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer(['--requirepass', RIGHT_PASSWORD]);
  });
  afterAll(() => redis.stop());

  it('logs a refused password as Redis unreachable without writing the password', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const platform = createPlatform({
      redisUrl: `redis://:${WRONG_PASSWORD}@127.0.0.1:${redis.port}`,
      logger: createLogger('info', sink),
      now: Date.now,
      historyOnSubscribeMs: HOUR_MS,
    });
    try {
      const deadline = Date.now() + LOG_WAIT_MS;
      while (!lines.some((line) => line.includes('WRONGPASS')) && Date.now() < deadline) await sleep(20);
      const refused = lines.filter((line) => line.includes('WRONGPASS'));
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]).toContain('redis unreachable');
      for (const line of lines) expect(line).not.toContain(WRONG_PASSWORD);
    } finally {
      await platform.close();
    }
  });

  it("redacts a failed command's arguments wherever a Redis error is logged", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const error = Object.assign(new Error('WRONGPASS'), {
      command: { name: 'hello', args: ['3', 'AUTH', 'default', WRONG_PASSWORD] },
    });
    createLogger('info', sink).warn({ err: error }, 'cache write failed');
    expect(lines.join('')).not.toContain(WRONG_PASSWORD);
    expect(lines.join('')).toContain('"name":"hello"');
  });
});
