/**
 * Domain errors with stable codes. The core throws these; the HTTP and Socket.IO edges translate
 * them into the envelopes of SPEC section 5 and 6, keeping the original as `cause`.
 */
export interface FieldIssue {
  readonly path: string;
  readonly message: string;
}

export abstract class AppError extends Error {
  abstract readonly code: string;
}

export class ValidationError extends AppError {
  override readonly name = 'ValidationError';
  readonly code = 'VALIDATION_FAILED';
  readonly issues: readonly FieldIssue[];

  constructor(message: string, issues: readonly FieldIssue[] = [], options?: ErrorOptions) {
    super(message, options);
    this.issues = issues;
  }
}

export class NotFoundError extends AppError {
  override readonly name = 'NotFoundError';
  readonly code = 'NOT_FOUND';
}

export class ConflictError extends AppError {
  override readonly name = 'ConflictError';
  readonly code = 'CONFLICT';
}

export class UnavailableError extends AppError {
  override readonly name = 'UnavailableError';
  readonly code = 'UNAVAILABLE';
}

/** No credentials, or credentials that do not check out (HTTP 401). */
export class UnauthorizedError extends AppError {
  override readonly name = 'UnauthorizedError';
  readonly code = 'UNAUTHORIZED';
}

/** Authenticated, but the role does not allow it (HTTP 403). */
export class ForbiddenError extends AppError {
  override readonly name = 'ForbiddenError';
  readonly code = 'FORBIDDEN';
}

/** Too many attempts; `retryAfterSeconds` says when the caller may try again (HTTP 429). */
export class TooManyRequestsError extends AppError {
  override readonly name = 'TooManyRequestsError';
  readonly code = 'TOO_MANY_REQUESTS';
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number, options?: ErrorOptions) {
    super(message, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A write carried a fencing token that is no longer current: another instance has taken over
 * ingestion since (ARCHITECTURE.md, "Scale-out"). The writer must stop writing.
 */
export class FencedError extends AppError {
  override readonly name = 'FencedError';
  readonly code = 'FENCED';
}
