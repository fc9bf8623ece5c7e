/**
 * The one place errors become HTTP statuses (SPEC section 5). Domain errors map by class; request
 * validation (validation.ts) names every bad field; 401 carries `WWW-Authenticate`, 429
 * `Retry-After`; 5xx bodies never carry internal text. What Fastify would answer by itself (a URL
 * it cannot route, a request arriving while the app closes) is answered in the envelope too.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AppError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
  type FieldIssue,
} from '../domain/errors.js';
import { failure } from './envelope.js';

const STATUS_BY_ERROR = new Map<new (...args: never[]) => AppError, number>([
  [ValidationError, 400],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [TooManyRequestsError, 429],
  [UnavailableError, 503],
]);

function statusOf(error: AppError): number {
  for (const [type, status] of STATUS_BY_ERROR) if (error instanceof type) return status;
  return 500;
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) {
      const status = statusOf(error);
      if (status >= 500) request.log.warn({ err: error }, 'request failed');
      if (error instanceof UnauthorizedError) void reply.header('www-authenticate', 'Bearer');
      if (error instanceof TooManyRequestsError) {
        void reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
      }
      const issues = error instanceof ValidationError ? error.issues : [];
      return reply.code(status).send(failure(status, error.message, issues));
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      // SPEC section 5 has no 415: a body the API cannot read is invalid input, named as such.
      const type = request.headers['content-type']?.split(';')[0]?.trim();
      const issue = {
        path: 'content-type',
        message: `must be application/json${type ? `, not ${type}` : ''}`,
      };
      return reply.code(400).send(failure(400, 'the body must be JSON', [issue]));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(failure(status, error.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(failure(500, 'Internal Server Error'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(failure(404, `route ${request.method} ${request.url.split('?')[0] ?? ''} not found`)),
  );
}

/**
 * Answers 503 in the envelope to a request that arrives (on a kept-alive connection) once the app
 * has begun to close; Fastify's own answer (`return503OnClosing`, turned off in build-app.ts) has
 * no envelope. Register it before any other preClose hook, so the flag is set as closing begins,
 * and after the security headers' hook, so the answer carries them.
 */
export function registerClosingRefusal(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    void reply.code(503).send(failure(503, 'the service is shutting down'));
  });
}

export interface FrameworkErrorSettings {
  /** The router's `maxParamLength`: a longer path segment is answered 414. */
  readonly maxParamLength: number;
  /** CORS_ORIGINS, as hardening.ts gives them to @fastify/cors. */
  readonly corsOrigins: readonly string[];
  /** Hears each answer sent, as the hooks (metrics.ts) would, since none runs for these. */
  readonly onAnswered: (request: FastifyRequest, reply: FastifyReply) => void;
}

/**
 * Fastify's `frameworkErrors`: what its router meets before any hook or the error handler runs
 * (a malformed percent-encoding, a path segment over `maxParamLength`), answered in the envelope
 * with Fastify's own status (400, 414) and the URL named as the bad field. No hook runs for these,
 * so the CORS and `nosniff` headers the hooks would add are set here: a browser front end then
 * sees the 400 itself rather than a CORS failure.
 */
export function createFrameworkErrorHandler(settings: FrameworkErrorSettings) {
  const urlIssues: Record<string, { readonly message: string; readonly issue: FieldIssue }> = {
    FST_ERR_BAD_URL: {
      message: 'invalid URL',
      issue: { path: 'url', message: 'has a malformed percent-encoding' },
    },
    FST_ERR_MAX_PARAM_LENGTH: {
      message: 'URI too long',
      issue: { path: 'url', message: `has a path segment longer than ${settings.maxParamLength} characters` },
    },
  };
  const anyOrigin = settings.corsOrigins.includes('*');
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const origin = request.headers.origin;
    if (anyOrigin) void reply.header('access-control-allow-origin', '*');
    else if (origin !== undefined && settings.corsOrigins.includes(origin)) {
      void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    }
    void reply.header('x-content-type-options', 'nosniff');
    const status = error.statusCode ?? 500;
    const known = urlIssues[error.code];
    if (known) {
      void reply.code(status).send(failure(status, known.message, [known.issue]));
    } else if (status >= 400 && status < 500) {
      void reply.code(status).send(failure(status, error.message));
    } else {
      request.log.error({ err: error }, 'routing failed');
      void reply.code(500).send(failure(500, 'Internal Server Error'));
    }
    settings.onAnswered(request, reply);
  };
}

/** Statuses of requests Node's HTTP parser refuses before Fastify sees them; any other is a 400. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, { readonly status: number; readonly message: string }>> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'the request was not received in time' },
  HPE_HEADER_OVERFLOW: { status: 431, message: 'the request headers are too large' },
};

/**
 * Fastify's `clientErrorHandler`: a request Node cannot parse (a malformed request line, an unknown
 * method, headers too large) or that was not received within the request timeout is answered in
 * the envelope, as every other response is, and its connection closed.
 */
export function createClientErrorHandler(settings: { readonly corsOrigins: readonly string[] }) {
  const cors = settings.corsOrigins.includes('*') ? 'Access-Control-Allow-Origin: *\r\n' : '';
  return (error: Error & { code?: string }, socket: Duplex): void => {
    // A reset or a socket already gone has no one to answer; nor has one whose response to an
    // earlier (pipelined) request is being written, which raw bytes would corrupt.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const { status, message } = CLIENT_ERROR_STATUS[error.code ?? ''] ?? {
      status: 400,
      message: 'malformed HTTP request',
    };
    const body = JSON.stringify(failure(status, message));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        cors +
        `Connection: close\r\n\r\n${body}`,
      // Node's server sockets are half-open: `end` alone would leave the connection to the client.
      () => socket.destroy(),
    );
  };
}
