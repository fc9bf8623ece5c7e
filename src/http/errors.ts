/**
 * The one place errors become HTTP statuses (SPEC section 5). Domain errors map by class; request
 * validation names every bad field (an unknown field by its own name); 401 carries
 * `WWW-Authenticate`, 429 `Retry-After`; 5xx bodies never carry internal text.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
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

interface ValidationEntry {
  readonly keyword?: string;
  readonly instancePath: string;
  readonly message?: string;
  readonly params?: Record<string, unknown>;
}

function validationIssues(error: FastifyError & { validation: ValidationEntry[] }): FieldIssue[] {
  const context = error.validationContext ?? 'request';
  const pathOf = (instancePath: string): string => instancePath.replace(/^\//, '').replaceAll('/', '.');
  return error.validation.flatMap((issue) => {
    const path = pathOf(issue.instancePath);
    // A strict object names its unknown keys in one issue: each becomes its own field, by name.
    const keys = issue.keyword === 'unrecognized_keys' ? issue.params?.keys : undefined;
    if (Array.isArray(keys)) {
      return keys.map((key) => ({
        path: path ? `${path}.${String(key)}` : String(key),
        message: 'is not allowed',
      }));
    }
    return [{ path: path || context, message: issue.message ?? 'is invalid' }];
  });
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = validationIssues(error);
      return reply.code(400).send(failure(400, `invalid ${error.validationContext ?? 'request'}`, issues));
    }
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
