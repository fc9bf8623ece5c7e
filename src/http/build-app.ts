/**
 * Builds the HTTP app (never listens): hardening (headers, CORS, body parsing, attempt limits),
 * error handling, docs, metrics, accounts and routes. Building also prepares accounts: the token
 * secret is resolved (JWT_SECRET or the one kept in the store) and the configured admin ensured.
 * `main.ts` listens and stops it; tests call `inject()` or listen on port 0.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { Redis } from 'ioredis';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';

import { setUpAccounts, type AuthSettings } from '../auth/setup.js';
import type { CandleReader } from '../market/candles.js';
import type { LiveLink } from '../market/live-link.js';
import type { PriceReader } from '../market/prices.js';
import type { Store } from '../ports/store.js';
import { createRealtimeGateway, type RealtimeSettings } from '../realtime/gateway.js';
import { registerAuthentication } from './auth.js';
import {
  createClientErrorHandler,
  createFrameworkErrorHandler,
  registerClosingRefusal,
  registerErrorHandling,
} from './errors.js';
import { registerHardening } from './hardening.js';
import { registerLinkMetrics } from './link-metrics.js';
import { createMetricsRegistry, createRequestObserver, registerMetrics } from './metrics.js';
import { MAX_BODY_BYTES, MAX_PATH_PARAM_CHARS } from './limits.js';
import { createAttemptGuards } from './rate-limits.js';
import { withoutUnusedComponents } from './responses.js';
import { priceDataRoutes } from './routes/price-data.js';
import { symbolRoutes } from './routes/symbols.js';
import { systemRoutes, type PlatformStatusSource } from './routes/system.js';
import { userRoutes } from './routes/users.js';
import { registerRequestValidation } from './validation.js';

export const API_PREFIX = '/api/v1';
/**
 * Longest a client may take to send a whole request, headers and body, in ms (then 408 and the
 * connection closed). Fastify's default is none, so a client sending its body byte by byte held
 * its connection for ever (only unfinished headers were cut, by Node's 60 s headersTimeout). Every
 * valid request is at most MAX_BODY_BYTES; a long-polling Socket.IO request waits for its answer,
 * not for its own sending.
 */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How often Node checks connections against REQUEST_TIMEOUT_MS, in ms (its default is 30 s). */
const REQUEST_TIMEOUT_CHECK_MS = 1000;
/** Socket.IO settings when none are given: SPEC section 3's defaults, no live price source. */
const DEFAULT_REALTIME: RealtimeSettings = {
  broadcastIntervalMs: 1000,
  historyOnSubscribeMs: 60 * 60 * 1000,
};

export interface AppDeps {
  readonly logger: FastifyBaseLogger;
  readonly store: Store;
  readonly candles: CandleReader;
  readonly prices: PriceReader;
  /** The live Binance link, when this process runs one (status figures). */
  readonly live?: Pick<LiveLink, 'status'>;
  /** Redis for the login and registration attempt counters, shared by instances; in-process without. */
  readonly attemptCounters?: Redis;
  /** Cache and bus health and this instance's ingestion role (issue 6), for health and status. */
  readonly platform?: PlatformStatusSource;
  readonly version: string;
  readonly now: () => number;
  /** Socket.IO on the same server and port (SPEC section 6). */
  readonly realtime?: RealtimeSettings;
  /** JWT_SECRET, JWT_EXPIRES_IN, ADMIN_EMAIL/ADMIN_PASSWORD; unset parts take SPEC section 3's defaults. */
  readonly auth?: AuthSettings;
  /** CORS_ORIGINS for the REST API; default any origin. */
  readonly corsOrigins?: readonly string[];
  /** TRUST_PROXY: whose X-Forwarded-For gives the client's IP; default none (the socket's address). */
  readonly trustProxy?: boolean | number | readonly string[];
  /** Called after each successful admin change to the symbols (the live link re-reads them now). */
  readonly onSymbolsChanged?: (symbols: readonly string[]) => void;
  /** Tests: REQUEST_TIMEOUT_MS. */
  readonly requestTimeoutMs?: number;
}

/** TRUST_PROXY as Fastify takes it: a number of proxies trusts that many hops from the socket. */
function fastifyTrustProxy(
  trust: AppDeps['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  if (typeof trust === 'object') return [...trust];
  return trust ?? false;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const requestTimeout = deps.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const registry = createMetricsRegistry();
  const observe = createRequestObserver(registry);
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: MAX_BODY_BYTES,
    requestTimeout,
    // Node's headersTimeout (60 s) must not exceed the request timeout, or Node swaps the two.
    http: { headersTimeout: requestTimeout, connectionsCheckingInterval: REQUEST_TIMEOUT_CHECK_MS },
    clientErrorHandler: createClientErrorHandler({ corsOrigins: deps.corsOrigins ?? ['*'] }),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PATH_PARAM_CHARS },
    trustProxy: fastifyTrustProxy(deps.trustProxy),
    frameworkErrors: createFrameworkErrorHandler({
      maxParamLength: MAX_PATH_PARAM_CHARS,
      corsOrigins: deps.corsOrigins ?? ['*'],
      onAnswered: observe,
    }),
    // Answered in the envelope instead (errors.ts registerClosingRefusal).
    return503OnClosing: false,
  }).withTypeProvider<ZodTypeProvider>();

  registerRequestValidation(app);
  // Responses are built by our own code; the schemas document them, JSON.stringify writes them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerErrorHandling(app);
  await registerHardening(app, { corsOrigins: deps.corsOrigins ?? ['*'] });
  registerClosingRefusal(app);
  // Before anything is attached to the server: a store that cannot answer fails the build cleanly.
  const accounts = await setUpAccounts(deps, deps.auth);

  await app.register(fastifySwagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema (2020-12), so `null` is a type (3.0 had only `nullable`).
      openapi: '3.1.0',
      info: {
        title: 'Binance market statistics',
        description: 'Live Binance spot USDT prices, exact candles and session intervals.',
        version: deps.version,
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    transform: jsonSchemaTransform,
    // The objects named in responses.ts (`Symbol`, `Candle`, …) as components, referenced by name.
    transformObject: (document) => withoutUnusedComponents(jsonSchemaTransformObject(document)),
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  if (deps.live) registerLinkMetrics(registry, deps.live);
  registerMetrics(app, registry, observe);

  // Attached to Fastify's own server: same port, `inject()` still works, closed with the app.
  const realtime = createRealtimeGateway({
    server: app.server,
    logger: deps.logger,
    store: deps.store,
    prices: deps.prices,
    candles: deps.candles,
    now: deps.now,
    corsOrigins: deps.corsOrigins ?? ['*'],
    settings: deps.realtime ?? DEFAULT_REALTIME,
  });
  app.addHook('preClose', async () => {
    await realtime.close();
  });

  const auth = registerAuthentication(app, accounts);
  const limits = await createAttemptGuards(app, { redis: deps.attemptCounters });
  const onSymbolsChanged = (symbols: readonly string[]): void => {
    try {
      deps.onSymbolsChanged?.(symbols);
    } catch (error) {
      app.log.warn({ err: error }, 'symbols-changed hook failed');
    }
  };

  const startedAt = deps.now();
  await app.register(
    async (api) => {
      await api.register(
        systemRoutes({
          store: deps.store,
          live: deps.live,
          platform: deps.platform,
          realtime,
          version: deps.version,
          startedAt,
          now: deps.now,
        }),
      );
      await api.register(userRoutes({ accounts, auth, limits }));
      await api.register(symbolRoutes({ store: deps.store, auth, onSymbolsChanged }));
      await api.register(priceDataRoutes(deps));
    },
    { prefix: API_PREFIX },
  );

  app.addHook('onClose', async () => {
    await deps.store.close();
  });
  return app;
}
