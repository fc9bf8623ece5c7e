/** The in-process attempt counters under a flood of other keys, on a real Fastify instance. */
import Fastify, { type FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { TooManyRequestsError } from '../domain/errors.js';
import {
  ATTEMPT_COUNTERS_IN_MEMORY,
  createAttemptGuards,
  LOGIN_ATTEMPTS_PER_ACCOUNT,
} from './rate-limits.js';

/** What the guards read of a login request: its client IP and its validated body's email. */
const login = (email: string, ip = '203.0.113.7') =>
  ({ ip, body: { email }, routeOptions: { config: {} } }) as unknown as FastifyRequest;

describe('attempt guards in process memory', () => {
  it("keeps an attacked account's used-up counter while logins for thousands of made-up emails flood in", async () => {
    const app = Fastify();
    try {
      const guards = await createAttemptGuards(app);
      const victim = login('victim@example.com');
      for (let i = 0; i < LOGIN_ATTEMPTS_PER_ACCOUNT; i++) await guards.loginPerAccount(victim);
      await expect(guards.loginPerAccount(victim)).rejects.toBeInstanceOf(TooManyRequestsError);
      // Well past @fastify/rate-limit's default of 5000 counters, within ATTEMPT_COUNTERS_IN_MEMORY.
      const flood = Math.min(20_000, ATTEMPT_COUNTERS_IN_MEMORY - 1);
      for (let i = 0; i < flood; i++) await guards.loginPerAccount(login(`filler-${i}@example.com`));
      await expect(guards.loginPerAccount(victim)).rejects.toBeInstanceOf(TooManyRequestsError);
    } finally {
      await app.close();
    }
  });
});
