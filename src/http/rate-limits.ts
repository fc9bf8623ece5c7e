/**
 * Attempt limits on login and registration (SPEC section 5: 429 with `Retry-After`), per client IP
 * and per account (the normalized email), in fixed windows. Counting is `@fastify/rate-limit`'s:
 * in the process's memory without Redis; with Redis (`createAttemptGuards(app, { redis })`) in
 * Redis, shared by every instance, and attempts are let through while Redis cannot answer
 * (`skipOnError`). Keys carry the limit's name, so limits never share a counter in a shared store.
 *
 * The IP limit runs at `onRequest`, before the body is read; the account limit at `preHandler`,
 * after validation, when the email is known and normalized. Every attempt counts, successful or
 * not (a success is rare enough not to matter, and the count cannot be steered by the outcome).
 */
import fastifyRateLimit, { normalizeIP, type CreateRateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { TooManyRequestsError } from '../domain/errors.js';

const MINUTE_MS = 60_000;

/** Login attempts from one IP per LOGIN_WINDOW_MS. */
export const LOGIN_ATTEMPTS_PER_IP = 30;
/** Login attempts for one account (email) per LOGIN_WINDOW_MS, from any IP. */
export const LOGIN_ATTEMPTS_PER_ACCOUNT = 10;
/** Window of the login limits, in ms (15 minutes). */
export const LOGIN_WINDOW_MS = 15 * MINUTE_MS;
/** Registrations from one IP per REGISTRATION_WINDOW_MS. */
export const REGISTRATIONS_PER_IP = 10;
/** Registration attempts for one email per REGISTRATION_WINDOW_MS, from any IP. */
export const REGISTRATION_ATTEMPTS_PER_EMAIL = 5;
/** Window of the registration limits, in ms (1 hour). */
export const REGISTRATION_WINDOW_MS = 60 * MINUTE_MS;

export interface AttemptLimit {
  /** Prefix of the counter keys, unique per limit. */
  readonly name: string;
  readonly max: number;
  readonly windowMs: number;
}

export const LIMITS = {
  loginPerIp: { name: 'login:ip', max: LOGIN_ATTEMPTS_PER_IP, windowMs: LOGIN_WINDOW_MS },
  loginPerAccount: { name: 'login:account', max: LOGIN_ATTEMPTS_PER_ACCOUNT, windowMs: LOGIN_WINDOW_MS },
  registerPerIp: { name: 'register:ip', max: REGISTRATIONS_PER_IP, windowMs: REGISTRATION_WINDOW_MS },
  registerPerEmail: {
    name: 'register:email',
    max: REGISTRATION_ATTEMPTS_PER_EMAIL,
    windowMs: REGISTRATION_WINDOW_MS,
  },
} as const satisfies Record<string, AttemptLimit>;

/** Throws TooManyRequestsError once the request's key has used up its attempts. */
export type AttemptGuard = (request: FastifyRequest) => Promise<void>;

export interface AttemptGuards {
  readonly loginPerIp: AttemptGuard;
  readonly loginPerAccount: AttemptGuard;
  readonly registerPerIp: AttemptGuard;
  readonly registerPerEmail: AttemptGuard;
}

/** The validated body's email (already normalized by the route schema). */
function emailOf(request: FastifyRequest): string {
  const body = request.body;
  if (typeof body === 'object' && body !== null && 'email' in body && typeof body.email === 'string') {
    return body.email;
  }
  return '';
}

const ipOf = (request: FastifyRequest): string => normalizeIP(request.ip);

function createGuard(
  app: FastifyInstance,
  limit: AttemptLimit,
  keyOf: (request: FastifyRequest) => string,
): AttemptGuard {
  // Each guard gets a store of its own, sized by `cache` (read by the in-memory store's `child`,
  // though the option types do not list it there; Redis ignores it).
  const options: CreateRateLimitOptions & { readonly cache: number } = {
    max: limit.max,
    timeWindow: limit.windowMs,
    keyGenerator: (request) => `${limit.name}:${keyOf(request)}`,
    cache: ATTEMPT_COUNTERS_IN_MEMORY,
  };
  const check = app.createRateLimit(options);
  return async (request) => {
    const result = await check(request);
    if (result.isAllowed || !result.isExceeded) return;
    throw new TooManyRequestsError(
      `too many attempts; try again in ${result.ttlInSeconds} s`,
      result.ttlInSeconds,
    );
  };
}

/**
 * Counters each guard keeps in process memory (one per IP, or per account), least recently used
 * dropped first; 20 to 30 MB when full (four limits: about 100 MB at most). `@fastify/rate-limit`'s
 * default of 5000 let a flood of logins for made-up emails push an attacked account's counter out,
 * and with it its limit, every few thousand requests. At this size that takes 50,000 attempts, from
 * 1,700 or more IPs (or /64s) at LOGIN_ATTEMPTS_PER_IP, per window. Redis keeps every counter for
 * its window.
 */
export const ATTEMPT_COUNTERS_IN_MEMORY = 50_000;

/** Prefix of the attempt counters' keys in a shared Redis. */
export const ATTEMPT_KEY_PREFIX = 'bms:attempts:';

/**
 * Registers the counting plugin (no global limit: only the guards below count) and builds the
 * guards. With `redis` the counters are shared by every instance on it; while Redis cannot answer,
 * attempts are let through (`skipOnError`) rather than locking every user out.
 */
export async function createAttemptGuards(
  app: FastifyInstance,
  options: { readonly redis?: Redis } = {},
): Promise<AttemptGuards> {
  await app.register(fastifyRateLimit, {
    global: false,
    ...(options.redis ? { redis: options.redis, nameSpace: ATTEMPT_KEY_PREFIX, skipOnError: true } : {}),
  });
  return {
    loginPerIp: createGuard(app, LIMITS.loginPerIp, ipOf),
    loginPerAccount: createGuard(app, LIMITS.loginPerAccount, emailOf),
    registerPerIp: createGuard(app, LIMITS.registerPerIp, ipOf),
    registerPerEmail: createGuard(app, LIMITS.registerPerEmail, emailOf),
  };
}
