/**
 * `GET /metrics` in Prometheus text format: process figures and HTTP request counts and durations.
 * Each app owns its registry, so several apps in one process (tests) never collide.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Bucket edges of the HTTP duration histogram, in seconds. */
const HTTP_DURATION_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Counts one answered request in `http_request_duration_seconds`. */
export type ObserveRequest = (request: FastifyRequest, reply: FastifyReply) => void;

/**
 * The `http_request_duration_seconds` histogram in `registry`, and what counts one answer in it:
 * built before the app, whose router answers some requests itself (errors.ts
 * createFrameworkErrorHandler) without Fastify's hooks.
 */
export function createRequestObserver(registry: Registry): ObserveRequest {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_DURATION_BUCKETS_S,
    registers: [registry],
  });
  return (request, reply) => {
    // The route pattern, not the URL, so label cardinality stays bounded.
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  };
}

/** Serves `/metrics` and counts with `observe` every answer that goes through Fastify's hooks. */
export function registerMetrics(app: FastifyInstance, registry: Registry, observe: ObserveRequest): void {
  app.addHook('onResponse', async (request, reply) => observe(request, reply));
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
}
