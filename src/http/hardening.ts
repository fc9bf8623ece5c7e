/**
 * HTTP hardening for the whole app: security headers (helmet, with a CSP that the Swagger UI at
 * /docs runs under), CORS from CORS_ORIGINS (an OPTIONS request that is not a preflight is a 400
 * in the envelope), and a JSON body parser (the only one) that refuses deep nesting before parsing
 * and keeps Fastify's prototype-poisoning protection. The body size limit is Fastify's own
 * `bodyLimit` (limits.ts MAX_BODY_BYTES), answered 413 by the error handler.
 */
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { ValidationError } from '../domain/errors.js';

/** Deepest nesting of objects and arrays accepted in a JSON body (`{}` is 1). */
export const MAX_JSON_NESTING_DEPTH = 16;
/** How long a browser may cache a CORS preflight answer, in seconds. */
export const CORS_PREFLIGHT_MAX_AGE_SECONDS = 600;
/** The request headers without which an OPTIONS request is not a CORS preflight. */
const PREFLIGHT_HEADERS = ['origin', 'access-control-request-method'] as const;

export interface HardeningSettings {
  /** CORS_ORIGINS: exact origins, or `*` for any. */
  readonly corsOrigins: readonly string[];
}

/**
 * Whether JSON text nests objects/arrays deeper than `maxDepth`. One pass over the characters,
 * brackets inside strings ignored, stopping at the first level too deep: cheap enough to run before
 * `JSON.parse` on every body.
 */
export function exceedsJsonDepth(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c)
        index++; // backslash: the next character is escaped
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x7b || code === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (code === 0x7d || code === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** Parses a JSON body: 400 (ValidationError) for empty, too deep, malformed or prototype-poisoning text. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '')
    throw new ValidationError('the JSON body is empty', [{ path: 'body', message: 'is empty' }]);
  if (exceedsJsonDepth(text, MAX_JSON_NESTING_DEPTH)) {
    throw new ValidationError(`the JSON body is nested deeper than ${MAX_JSON_NESTING_DEPTH} levels`, [
      { path: 'body', message: `is nested deeper than ${MAX_JSON_NESTING_DEPTH} levels` },
    ]);
  }
  try {
    // Fastify's defaults: a `__proto__` key or a `constructor.prototype` anywhere is refused.
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    const poisoned = error instanceof SyntaxError && /forbidden prototype property/i.test(error.message);
    const message = poisoned
      ? 'contains a forbidden key (__proto__ or constructor.prototype)'
      : 'is not valid JSON';
    throw new ValidationError(`the body ${message}`, [{ path: 'body', message }], { cause: error });
  }
}

export async function registerHardening(app: FastifyInstance, settings: HardeningSettings): Promise<void> {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        // The service is served over plain HTTP by default: upgrading would break /docs' assets.
        upgradeInsecureRequests: null,
        // Swagger UI's own scripts and styles are files under /docs; its images are data: URLs.
        imgSrc: ["'self'", 'data:'],
      },
    },
  });

  // A preflight without its two headers is refused here, in the envelope and naming what is
  // missing, before @fastify/cors would answer it in plain text (its `strictPreflight`).
  app.addHook('onRequest', async (request) => {
    if (request.method !== 'OPTIONS') return;
    const missing = PREFLIGHT_HEADERS.filter((name) => request.headers[name] === undefined);
    if (missing.length > 0) {
      throw new ValidationError(
        'invalid CORS preflight request',
        missing.map((name) => ({ path: name, message: 'is required in a CORS preflight request' })),
      );
    }
  });

  const origins = settings.corsOrigins;
  await app.register(fastifyCors, {
    strictPreflight: false,
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'OPTIONS'],
    allowedHeaders: ['Content-Type', 'Authorization'],
    exposedHeaders: ['Retry-After'],
    maxAge: CORS_PREFLIGHT_MAX_AGE_SECONDS,
  });

  // Bodies are JSON only. Fastify's text/plain parser would hand a route a string, refused as
  // "expected object"; without it a body of any other type is named by its content type (errors.ts).
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    async (_request: FastifyRequest, body: string | Buffer) =>
      parseJsonBody(typeof body === 'string' ? body : body.toString('utf8')),
  );
}
