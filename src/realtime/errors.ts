/**
 * Errors of the Socket.IO edge and their translation into `error { message, code, event }` and a
 * failed ack (SPEC section 6). Domain errors keep their meaning; anything else is masked.
 */
import { AppError, NotFoundError, UnavailableError, ValidationError } from '../domain/errors.js';
import type { RealtimeErrorCode } from './events.js';

export class TooManySubscriptionsError extends AppError {
  override readonly name = 'TooManySubscriptionsError';
  readonly code = 'TOO_MANY_SUBSCRIPTIONS';
}

export interface TranslatedError {
  readonly code: RealtimeErrorCode;
  readonly message: string;
  /** False for an unexpected failure: its text stays in the log, not on the wire. */
  readonly expected: boolean;
}

export function translateError(error: unknown): TranslatedError {
  if (error instanceof ValidationError) {
    const detail = error.issues.map((issue) => `${issue.path || 'payload'}: ${issue.message}`).join('; ');
    return {
      code: 'INVALID_PAYLOAD',
      message: detail ? `${error.message} (${detail})` : error.message,
      expected: true,
    };
  }
  if (error instanceof NotFoundError)
    return { code: 'UNKNOWN_SYMBOL', message: error.message, expected: true };
  if (error instanceof UnavailableError)
    return { code: 'UNAVAILABLE', message: error.message, expected: true };
  if (error instanceof TooManySubscriptionsError) {
    return { code: error.code, message: error.message, expected: true };
  }
  return { code: 'INTERNAL_ERROR', message: 'internal error', expected: false };
}
