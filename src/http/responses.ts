/**
 * What the REST API answers (SPEC section 5), as the OpenAPI document shows it: the envelope, the
 * objects inside it, and the error statuses each route can give. Documentation only: responses are
 * written with JSON.stringify (build-app.ts), so the tests check the answers they get against the
 * schema their route declares (test/helpers/openapi-check.ts). Named objects (`Symbol`, `User`,
 * `Candle`, …) become the document's components, so generated clients get one type for each.
 */
import { z } from 'zod';
import { MAX_BODY_BYTES, MAX_PATH_PARAM_CHARS } from './limits.js';

const epochMs = z.number().int().describe('epoch ms');
const count = z.number().int().min(0);

export const symbolSchema = z
  .object({
    symbol: z.string(),
    baseAsset: z.string(),
    quoteAsset: z.string(),
    status: z.string().describe("Binance's trading status: TRADING, BREAK, HALT, …"),
    isActive: z.boolean().describe('tracked live'),
    createdAt: epochMs,
  })
  .meta({ id: 'Symbol' });

export const userSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    email: z.string(),
    role: z.enum(['user', 'admin']),
    createdAt: epochMs,
  })
  .meta({ id: 'User' });

export const sessionSchema = z
  .object({ accessToken: z.string().describe('a JWT: send it as Authorization: Bearer …'), user: userSchema })
  .meta({ id: 'Session' });

export const priceSampleSchema = z
  .object({ symbol: z.string(), price: z.number(), timestamp: epochMs })
  .meta({ id: 'PriceSample' });

export const latestPriceSchema = z
  .object({
    symbol: z.string(),
    price: z.number(),
    timestamp: epochMs.describe('exchange event time of the price, epoch ms'),
    open24h: z.number(),
    high24h: z.number(),
    low24h: z.number(),
    volume24h: z.number(),
    quoteVolume24h: z.number(),
    change24h: z.number(),
    changePercent24h: z.number(),
    ageMs: z.number().int().describe('how old the price is, in ms'),
    stale: z.boolean().describe('no price for longer than STALE_AFTER_MS'),
  })
  .meta({ id: 'LatestPrice' });

export const candleSchema = z
  .object({
    symbol: z.string(),
    interval: z.string().describe('a standard interval (1m, 4h, …) or session'),
    openTime: epochMs,
    closeTime: epochMs.describe('the last ms of the candle'),
    open: z.number(),
    high: z.number(),
    low: z.number(),
    close: z.number(),
    volume: z.number(),
    quoteVolume: z.number(),
    trades: count,
    takerBuyVolume: z.number(),
    takerBuyQuoteVolume: z.number(),
    closed: z.boolean().describe('false for the candle still forming'),
  })
  .meta({ id: 'Candle' });

export const bulkResultSchema = z
  .object({
    created: z.array(z.string()),
    skipped: z.array(z.string()).describe('already stored, or named twice'),
  })
  .meta({ id: 'BulkResult' });

const healthChecksSchema = z.object({
  store: z.object({ ok: z.boolean(), driver: z.string() }),
  writes: z.object({ ok: z.boolean(), failedFlushesInARow: count }).optional(),
  cache: z.object({ ok: z.boolean(), driver: z.string() }).optional(),
});

export const healthSchema = z
  .object({
    status: z.literal('ok'),
    checks: healthChecksSchema.optional().describe('present when something is degraded'),
  })
  .meta({ id: 'Health' });

const lastError = z.string().nullable().describe('null when nothing has failed');

const linkSchema = z.object({
  state: z.enum(['stopped', 'connecting', 'connected', 'reconnecting']),
  connections: count,
  streams: count,
  lastMessageAt: epochMs.nullable(),
  reconnects: count,
  replacements: count.describe('connections replaced before 24 h or on serverShutdown'),
  malformed: count.describe('frames that could not be read'),
  lastError,
  outgoingSpacingMs: count.describe('gap between outgoing frames, in ms'),
});

export const statusSchema = z
  .object({
    version: z.string(),
    startedAt: epochMs,
    uptimeMs: z.number().int(),
    store: z.object({ driver: z.string(), healthy: z.boolean() }),
    binance: z
      .union([linkSchema, z.object({ state: z.literal('disabled') })])
      .describe('the Binance link; only state (disabled) when this process runs none'),
    symbols: z.object({
      total: count,
      active: count,
      tracked: count,
      fresh: count,
      stale: count,
      staleSymbols: z.array(z.string()).optional(),
    }),
    backfill: z
      .object({
        queued: count,
        active: z.string().nullable().describe('the symbol being repaired'),
        repairedRanges: count,
        candlesStored: count,
        failures: count,
        lastError,
        unknownSymbols: z.array(z.string()),
        recent: z.array(
          z.object({ symbol: z.string(), from: epochMs, to: epochMs, candles: count, at: epochMs }),
        ),
      })
      .optional()
      .describe('gap repair'),
    writes: z
      .object({
        pendingCandles: count,
        pendingSamples: count,
        flushes: count,
        failedFlushes: count,
        consecutiveFailedFlushes: count,
        refused: count.describe('updates refused because the write buffer was full'),
        lastError,
      })
      .optional(),
    cache: z
      .object({
        driver: z.enum(['memory', 'redis']),
        healthy: z.boolean(),
        writer: z.object({ writes: count, failures: count, droppedSamples: count, lastError }),
      })
      .optional(),
    bus: z
      .object({
        driver: z.enum(['memory', 'redis']),
        healthy: z.boolean(),
        published: count,
        received: count,
        dropped: count,
        malformed: count,
      })
      .optional(),
    ingestion: z
      .object({
        mode: z.enum(['single', 'leased']),
        role: z.enum(['ingesting', 'standby']),
        lease: z
          .object({
            holding: z.boolean(),
            holderId: z.string(),
            since: epochMs.nullable(),
            acquisitions: count,
            lastError,
          })
          .optional(),
      })
      .optional(),
    realtime: z
      .object({
        clients: count,
        subscriptions: count,
        symbols: count,
        updatesSent: count,
        rateLimited: count,
        slowClients: count,
        backlogRefusals: count,
        sessionCloses: z.object({ pushed: count, unannounced: count, refusedAnnouncements: count }),
      })
      .optional(),
  })
  .meta({ id: 'Status' });

const listMetaSchema = z
  .object({
    count,
    limit: z.number().int().optional(),
    from: epochMs.nullable().optional().describe('the first item, null when there is none'),
    to: epochMs.nullable().optional().describe('the last item, null when there is none'),
  })
  .meta({ id: 'ListMeta' });

const errorSchema = z
  .object({
    success: z.literal(false),
    statusCode: z.number().int(),
    message: z.string(),
    errorSources: z.array(z.object({ path: z.string(), message: z.string() })),
  })
  .meta({ id: 'Error' });

/** A JSON answer with what it means, as a route's `response` entry for one status. */
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/** The success envelope around `data`, with `meta` on lists. */
export function envelope<T extends z.ZodType>(
  data: T,
  description: string,
  options: { list?: boolean } = {},
) {
  const shape = {
    success: z.literal(true),
    statusCode: z.number().int(),
    message: z.string(),
    data,
  };
  return json(options.list ? z.object({ ...shape, meta: listMetaSchema }) : z.object(shape), description);
}

/** `/system/health` when the store or its writes fail: the error envelope, with the checks. */
export const degradedSchema = json(
  errorSchema.extend({
    data: z
      .object({ status: z.literal('degraded'), checks: healthChecksSchema })
      .optional()
      .describe('absent when the service is shutting down'),
  }),
  'degraded: the store does not answer or its writes keep failing (data.checks says which), or the service is shutting down',
);

/** What each error status means, as the document says it. */
const ERROR_MEANINGS = {
  400: 'invalid input: every bad field named in errorSources',
  401: 'missing or invalid token',
  403: 'wrong role',
  404: 'unknown symbol',
  409: 'already exists',
  413: `body larger than ${MAX_BODY_BYTES / 1024} KiB`,
  414: `a path segment longer than ${MAX_PATH_PARAM_CHARS} characters`,
  429: 'too many attempts: wait Retry-After seconds',
  500: 'an unexpected failure, logged; the body names no internal detail',
  503: 'not ready: the store cannot answer, nothing is recorded yet, or the service is shutting down',
} as const;

type ErrorStatus = keyof typeof ERROR_MEANINGS;

/** The error answers a route gives, each in the error envelope: `statuses`, and 500 and 503, which any can. */
export function errors(...statuses: Exclude<ErrorStatus, 500 | 503>[]) {
  return Object.fromEntries(
    [...statuses, 500 as const, 503 as const].map((status) => [
      status,
      json(errorSchema, ERROR_MEANINGS[status]),
    ]),
  ) as Partial<Record<ErrorStatus, ReturnType<typeof json<typeof errorSchema>>>>;
}

/**
 * `document` (OpenAPI) with only the components its paths reach, directly or through other
 * components: fastify-type-provider-zod adds an `…Input` copy of every named schema, and these are
 * only answers.
 */
export function withoutUnusedComponents<T extends object>(document: T): T {
  const { components } = document as { components?: { schemas?: Record<string, unknown> } };
  const schemas = components?.schemas ?? {};
  const refsIn = (part: unknown): string[] =>
    [...JSON.stringify(part).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]!);
  const reached = new Set<string>();
  // The roots: what refers to schemas from outside them (the paths).
  const toVisit = refsIn({ ...document, components: { ...components, schemas: {} } });
  for (let name = toVisit.pop(); name !== undefined; name = toVisit.pop()) {
    if (reached.has(name) || !(name in schemas)) continue;
    reached.add(name);
    toVisit.push(...refsIn(schemas[name]));
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => reached.has(name)));
  return { ...document, components: { ...components, schemas: kept } };
}
