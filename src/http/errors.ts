/**
 * The one place errors become HTTP statuses (SPEC section 5). Domain errors map by class; request
 * validation names every bad field; 5xx bodies never carry internal text.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import {
  AppError,
  ConflictError,
  NotFoundError,
  UnavailableError,
  ValidationError,
  type FieldIssue,
} from '../domain/errors.js';
import { failure } from './envelope.js';

const STATUS_BY_ERROR = new Map<new (...args: never[]) => AppError, number>([
  [ValidationError, 400],
  [NotFoundError, 404],
  [ConflictError, 409],
  [UnavailableError, 503],
]);

function statusOf(error: AppError): number {
  for (const [type, status] of STATUS_BY_ERROR) if (error instanceof type) return status;
  return 500;
}

function validationIssues(
  error: FastifyError & { validation: { instancePath: string; message?: string }[] },
): FieldIssue[] {
  return error.validation.map((issue) => ({
    path:
      issue.instancePath.replace(/^\//, '').replaceAll('/', '.') || (error.validationContext ?? 'request'),
    message: issue.message ?? 'is invalid',
  }));
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
