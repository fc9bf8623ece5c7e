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

/**
 * Characters of an error's message a client is sent: enough for every issue of a payload a client
 * means to send, while one with thousands of unknown keys (or 250 unknown symbols) cannot turn a
 * 16 KiB message into a reply many times its size, sent twice (the `error` event and the ack).
 */
export const MAX_ERROR_MESSAGE_CHARS = 300;

const bounded = (message: string): string =>
  message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…` : message;

function expected(code: RealtimeErrorCode, message: string): TranslatedError {
  return { code, message: bounded(message), expected: true };
}

export function translateError(error: unknown): TranslatedError {
  if (error instanceof ValidationError) {
    const detail = error.issues.map((issue) => `${issue.path || 'payload'}: ${issue.message}`).join('; ');
    return expected('INVALID_PAYLOAD', detail ? `${error.message} (${detail})` : error.message);
  }
  if (error instanceof NotFoundError) return expected('UNKNOWN_SYMBOL', error.message);
  if (error instanceof UnavailableError) return expected('UNAVAILABLE', error.message);
  if (error instanceof TooManySubscriptionsError) return expected(error.code, error.message);
  return { code: 'INTERNAL_ERROR', message: 'internal error', expected: false };
}
