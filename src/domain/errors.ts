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
