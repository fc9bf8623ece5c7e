/** `/system/health` and `/system/status` (SPEC section 5). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { CacheWriterStats } from '../../market/cache-writer.js';
import type { LiveLink } from '../../market/live-link.js';
import type { BusStatus } from '../../ports/bus.js';
import type { Store } from '../../ports/store.js';
import type { RealtimeGateway } from '../../realtime/gateway.js';
import type { IngestionStatus } from '../../scale/ingestion.js';
import type { PlatformHealth } from '../../scale/platform.js';
import { failure, ok } from '../envelope.js';
import { degradedSchema, envelope, errors, healthSchema, statusSchema } from '../responses.js';

/** How long the store may take to answer a health check before it counts as down. */
export const HEALTH_CHECK_TIMEOUT_MS = 2000;
/**
 * Flushes of the live link's write buffer failed in a row (one a second) after which health says
 * degraded: a store that answers a ping but refuses writes (a full disk, a read-only file system,
 * a PostgreSQL standby) is losing what the service ingests.
 */
export const DEGRADED_AFTER_FAILED_FLUSHES = 3;

/**
 * The status with every field present: one not known yet (no message received, no error so far)
 * is `null`, where JSON would leave the key out, so readers see the same shape always. Typed as
 * statusSchema says, which the types of its parts cannot show (their `undefined` is now `null`);
 * the tests check real answers against that schema (test/helpers/openapi-check.ts).
 */
const withNulls = (value: object): z.output<typeof statusSchema> =>
  JSON.parse(
    JSON.stringify(value, (_key, field: unknown) => (field === undefined ? null : field)),
  ) as z.output<typeof statusSchema>;

/** Cache and bus (in-process or Redis) and who ingests (scale/ingestion.ts). */
export interface PlatformStatusSource {
  /** The cache's driver, and whether its connections are up (no I/O). */
  health(): PlatformHealth;
  /** Asks the cache itself: a frozen Redis keeps its connections up and answers nothing. */
  pingCache(): Promise<void>;
  ingestion(): IngestionStatus;
  /** The bus's driver, whether it can deliver now, and its message counts. */
  bus(): BusStatus;
  /** What the cache writer sent, failed to send and dropped. */
  cacheWriter(): CacheWriterStats;
}

export interface SystemRouteDeps {
  readonly store: Store;
  readonly live: Pick<LiveLink, 'status'> | undefined;
  readonly platform?: PlatformStatusSource;
  /** Socket.IO clients and subscriptions. */
  readonly realtime?: Pick<RealtimeGateway, 'status'>;
  readonly version: string;
  readonly startedAt: number;
  readonly now: () => number;
}

async function check(probe: () => Promise<void>): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${HEALTH_CHECK_TIMEOUT_MS} ms`)),
      HEALTH_CHECK_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([probe(), timeout]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : 'failed' };
  } finally {
    clearTimeout(timer);
  }
}

/** Connections up and a ping answered within HEALTH_CHECK_TIMEOUT_MS. */
async function cacheHealth(platform: PlatformStatusSource): Promise<PlatformHealth> {
  const health = platform.health();
  if (!health.healthy) return health;
  return { ...health, healthy: (await check(() => platform.pingCache())).ok };
}

/** The Binance link's figures (SPEC section 5), or what is known without a link in this process. */
function linkStatus(live: Pick<LiveLink, 'status'> | undefined, total: number, active: number) {
  if (!live)
    return {
      symbols: { total, active, tracked: 0, fresh: 0, stale: 0 },
      binance: { state: 'disabled' as const },
    };
  const { binance, symbols, repair, writes } = live.status();
  return {
    binance,
    symbols: { total, active, ...symbols },
    backfill: repair,
    writes,
  };
}

export function systemRoutes({
  store,
  live,
  platform,
  realtime,
  version,
  startedAt,
  now,
}: SystemRouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/system/health',
      {
        schema: {
          tags: ['system'],
          summary: 'Liveness of the process and its store',
          response: { 200: envelope(healthSchema, 'up'), ...errors(), 503: degradedSchema },
        },
      },
      async (_request, reply) => {
        const [storeCheck, cache] = await Promise.all([
          check(() => store.ping()),
          platform && cacheHealth(platform),
        ]);
        const failedFlushes = live?.status().writes.consecutiveFailedFlushes ?? 0;
        const writesOk = failedFlushes < DEGRADED_AFTER_FAILED_FLUSHES;
        const checks = {
          store: { ok: storeCheck.ok, driver: store.driver },
          ...(live ? { writes: { ok: writesOk, failedFlushesInARow: failedFlushes } } : {}),
          ...(cache ? { cache: { ok: cache.healthy, driver: cache.driver } } : {}),
        };
        if (!storeCheck.ok || !writesOk) {
          return reply.code(503).send({ ...failure(503, 'degraded'), data: { status: 'degraded', checks } });
        }
        // Without Redis the instance still serves everything from the store and its own memory, so
        // it is up as SPEC section 5 defines it (200 `ok`: the process and its store answer); the
        // checks and the message say what is degraded, and a load balancer keeps sending it traffic.
        if (cache && !cache.healthy) return ok({ status: 'ok', checks }, 'degraded: redis unreachable');
        return ok({ status: 'ok' }, 'healthy');
      },
    );

    app.get(
      '/system/status',
      {
        schema: {
          tags: ['system'],
          summary: 'What the service is doing',
          response: { 200: envelope(statusSchema, 'status'), ...errors() },
        },
      },
      async () => {
        const [storeCheck, cache] = await Promise.all([
          check(() => store.ping()),
          platform && cacheHealth(platform),
        ]);
        const [all, active] = storeCheck.ok
          ? await Promise.all([store.listSymbols(), store.listSymbols({ active: true })])
          : [[], []];
        return ok(
          withNulls({
            version,
            startedAt,
            uptimeMs: now() - startedAt,
            store: { driver: store.driver, healthy: storeCheck.ok },
            ...(platform && cache
              ? {
                  cache: { ...cache, writer: platform.cacheWriter() },
                  bus: platform.bus(),
                  ingestion: platform.ingestion(),
                }
              : {}),
            ...linkStatus(live, all.length, active.length),
            ...(realtime ? { realtime: realtime.status() } : {}),
          }),
          'status',
        );
      },
    );
  };
}
