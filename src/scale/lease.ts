/**
 * The ingestion lease in Redis: exactly one instance at a time holds it and ingests from Binance.
 * One key holds the holder's id with a time to live; the holder renews it every
 * LEASE_RENEW_INTERVAL_MS, the others try to take it every LEASE_ACQUIRE_INTERVAL_MS, so a holder
 * that dies (SIGKILL: no release) is replaced within LEASE_TTL_MS + LEASE_ACQUIRE_INTERVAL_MS.
 *
 * Redis alone cannot stop a paused or partitioned holder from writing after its lease ran out, so
 * each new holder also takes a fencing token from the store (`Store.advanceFence`) and every
 * ingestion write carries it: the store refuses a superseded token in the write's own transaction
 * (ARCHITECTURE.md, "Scale-out"). Hence a holder that cannot reach Redis keeps ingesting (losing
 * nothing) until either Redis says someone else holds the lease or the store refuses its token.
 * When Redis comes back from an outage, the holder renews first (`onReady`).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long the lease lives without renewal, in ms. */
export const LEASE_TTL_MS = 10_000;
/** How often the holder renews, in ms: three renewals may fail before the lease lapses. */
export const LEASE_RENEW_INTERVAL_MS = 3000;
/** How often an instance without the lease tries to take it, in ms. */
export const LEASE_ACQUIRE_INTERVAL_MS = 2000;

/** Takes the lease if free, or keeps it if ours (also after Redis restarted empty): 1 held, 0 not. */
const CLAIM_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface LeaseOptions {
  readonly redis: Redis;
  readonly key: string;
  /** Unique per instance (and per process start). */
  readonly holderId: string;
  readonly logger: Logger;
  /**
   * Called once the lease is taken; the next renewal waits for it. Should it reject, the lease is
   * released at once and not held (`onLost` is not called: it must undo what it did itself), so this
   * or another instance takes it at a next attempt.
   */
  readonly onAcquired: () => Promise<void>;
  /** Called once the lease is lost (another holder, or `lose()`); the next attempt waits for it. */
  readonly onLost: (reason: string) => Promise<void>;
  readonly ttlMs?: number;
  readonly renewIntervalMs?: number;
  readonly acquireIntervalMs?: number;
}

/** What the lease's user supplies; the rest of `LeaseOptions` is the platform's. */
export type LeaseCallbacks = Pick<LeaseOptions, 'onAcquired' | 'onLost'>;

/** Makes the ingestion lease around its user's callbacks (scale/platform.ts, used by scale/ingestion.ts). */
export type LeaseFactory = (callbacks: LeaseCallbacks) => Lease;

export interface LeaseStatus {
  readonly holding: boolean;
  readonly holderId: string;
  /** When this instance last took the lease, epoch ms. */
  readonly since: number | undefined;
  /** Times this instance took the lease (a take-over whose `onAcquired` failed does not count). */
  readonly acquisitions: number;
  readonly lastError: string | undefined;
}

export interface Lease {
  start(): void;
  /** Stops trying and, when holding, releases the lease (a clean stop hands over at once). */
  stop(): Promise<void>;
  /**
   * Gives the lease up now (the store refused our fencing token, or our link to Binance is silent):
   * `onLost` runs, then we try again after `holdOffMs` (by default the usual LEASE_ACQUIRE_INTERVAL_MS),
   * which leaves the other instances time to take it first.
   */
  lose(reason: string, options?: { readonly holdOffMs?: number }): void;
  status(): LeaseStatus;
}

export function createLease(options: LeaseOptions): Lease {
  const { redis, key, holderId, logger } = options;
  const ttlMs = options.ttlMs ?? LEASE_TTL_MS;
  const renewMs = options.renewIntervalMs ?? LEASE_RENEW_INTERVAL_MS;
  const acquireMs = options.acquireIntervalMs ?? LEASE_ACQUIRE_INTERVAL_MS;
  let holding = false;
  let since: number | undefined;
  let acquisitions = 0;
  let lastError: string | undefined;
  let stopped = true;
  /** A loss to act on at the loop's next turn (`lose()`), and the wake-up of its wait. */
  let pendingLoss: { readonly reason: string; readonly holdOffMs: number } | undefined;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  /** The connection to Redis has been ready once (a first connection that fails is no drop). */
  let everReady = false;
  /** The connection to Redis dropped since it was last ready. */
  let reconnecting = false;
  /** Until when (epoch ms) this instance, not holding, leaves a free key alone. */
  let bidAfter = 0;

  const onClose = (): void => {
    if (everReady) reconnecting = true;
  };
  /**
   * Redis is back, and may have restarted empty: the key is then free although its holder kept
   * ingesting through the outage. The holder claims it again at once; the others leave it a TTL to
   * do so, which is longer than any reconnection backoff. Without this a bidder that reconnected
   * first took the lease on most restarts, and each such hand-over lost the old holder's last writes.
   */
  const onReady = (): void => {
    everReady = true;
    if (!reconnecting) return;
    reconnecting = false;
    bidAfter = Date.now() + ttlMs;
    if (holding) wake?.();
  };

  const release = () => redis.eval(RELEASE_SCRIPT, 1, key, holderId).catch(() => undefined);

  const transition = async (next: boolean, reason: string): Promise<void> => {
    holding = next;
    if (next) {
      logger.info({ holderId }, 'ingestion lease taken');
      try {
        await options.onAcquired();
      } catch (error) {
        // Holding on would renew the key forever with nothing ingesting: give it up instead.
        holding = false;
        lastError = error instanceof Error ? error.message : String(error);
        logger.error({ err: error, holderId }, 'taking over ingestion failed; ingestion lease released');
        await release();
        return;
      }
      acquisitions++;
      since = Date.now();
    } else {
      logger.warn({ holderId, reason }, 'ingestion lease lost');
      await options.onLost(reason);
    }
  };

  /** One claim: take or keep the lease, or learn that another instance holds it. */
  const claim = async (): Promise<void> => {
    if (!holding && Date.now() < bidAfter) return;
    let held: boolean;
    try {
      held = (await redis.eval(CLAIM_SCRIPT, 1, key, holderId, String(ttlMs))) === 1;
      lastError = undefined;
    } catch (error) {
      // Unknown: keep what we believe (a holder keeps ingesting, fenced by the store).
      lastError = error instanceof Error ? error.message : String(error);
      return;
    }
    if (stopped) {
      // stop() came while this claim was on its way: a key it took is given back, not left to lapse.
      if (held && !holding) await release();
      return;
    }
    if (held !== holding) await transition(held, held ? 'acquired' : 'held by another instance');
  };

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const run = async (): Promise<void> => {
    while (!stopped) {
      /** How long to wait before the next claim when not holding. */
      let pauseMs = acquireMs;
      try {
        if (pendingLoss !== undefined) {
          const { reason, holdOffMs } = pendingLoss;
          pendingLoss = undefined;
          if (holding) {
            await transition(false, reason);
            await release();
            pauseMs = Math.max(acquireMs, holdOffMs);
          }
        } else {
          await claim();
        }
      } catch (error) {
        logger.error({ err: error }, 'lease transition failed');
      }
      if (!stopped && pendingLoss === undefined) await wait(holding ? renewMs : pauseMs);
    }
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      everReady ||= redis.status === 'ready';
      redis.on('close', onClose);
      redis.on('ready', onReady);
      loop = run();
    },
    async stop() {
      stopped = true;
      redis.off('close', onClose);
      redis.off('ready', onReady);
      wake?.();
      await loop;
      if (!holding) return;
      holding = false;
      await options.onLost('stopping');
      await release();
    },
    lose(reason, lossOptions) {
      if (!holding || stopped) return;
      pendingLoss = { reason, holdOffMs: lossOptions?.holdOffMs ?? 0 };
      wake?.();
    },
    status: () => ({ holding, holderId, since, acquisitions, lastError }),
  };
}
