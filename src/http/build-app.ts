/**
 * Builds the HTTP app (never listens): plugins, error handling, docs, metrics and routes.
 * `main.ts` listens and stops it; tests call `inject()` or listen on port 0.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';

import type { CandleReader } from '../market/candles.js';
import type { LiveLink } from '../market/live-link.js';
import type { PriceReader } from '../market/prices.js';
import type { Store } from '../ports/store.js';
import { createRealtimeGateway, type RealtimeSettings } from '../realtime/gateway.js';
import { registerErrorHandling } from './errors.js';
import { registerLinkMetrics } from './link-metrics.js';
import { createMetricsRegistry, registerMetrics } from './metrics.js';
import { priceDataRoutes } from './routes/price-data.js';
import { symbolRoutes } from './routes/symbols.js';
import { systemRoutes } from './routes/system.js';

export const API_PREFIX = '/api/v1';
/** Largest request body accepted, in bytes (larger gets 413). */
export const MAX_BODY_BYTES = 64 * 1024;
/** Socket.IO settings when none are given: SPEC section 3's defaults, no live price source. */
const DEFAULT_REALTIME: RealtimeSettings = {
  broadcastIntervalMs: 1000,
  historyOnSubscribeMs: 60 * 60 * 1000,
  corsOrigins: ['*'],
};

export interface AppDeps {
  readonly logger: FastifyBaseLogger;
  readonly store: Store;
  readonly candles: CandleReader;
  readonly prices: PriceReader;
  /** The live Binance link, when this process runs one (status figures). */
  readonly live?: Pick<LiveLink, 'status'>;
  readonly version: string;
  readonly now: () => number;
  /** Socket.IO on the same server and port (SPEC section 6). */
  readonly realtime?: RealtimeSettings;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: MAX_BODY_BYTES,
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  // Responses are built by our own code; the schemas document them, JSON.stringify writes them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerErrorHandling(app);

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Binance market statistics',
        description: 'Live Binance spot USDT prices, exact candles and session intervals.',
        version: deps.version,
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  const registry = createMetricsRegistry();
  if (deps.live) registerLinkMetrics(registry, deps.live);
  registerMetrics(app, registry);

  // Attached to Fastify's own server: same port, `inject()` still works, closed with the app.
  const realtime = createRealtimeGateway({
    server: app.server,
    logger: deps.logger,
    store: deps.store,
    prices: deps.prices,
    candles: deps.candles,
    now: deps.now,
    settings: deps.realtime ?? DEFAULT_REALTIME,
  });
  app.addHook('preClose', async () => {
    await realtime.close();
  });

  const startedAt = deps.now();
  await app.register(
    async (api) => {
      await api.register(
        systemRoutes({
          store: deps.store,
          live: deps.live,
          realtime,
          version: deps.version,
          startedAt,
          now: deps.now,
        }),
      );
      await api.register(symbolRoutes({ store: deps.store }));
      await api.register(priceDataRoutes(deps));
    },
    { prefix: API_PREFIX },
  );

  app.addHook('onClose', async () => {
    await deps.store.close();
  });
  return app;
}
