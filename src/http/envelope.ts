/** The response envelope of SPEC section 5. */
import type { FieldIssue } from '../domain/errors.js';

export interface ListMeta {
  readonly count: number;
  readonly limit?: number;
  readonly from?: number | null;
  readonly to?: number | null;
}

export interface SuccessEnvelope<T> {
  readonly success: true;
  readonly statusCode: number;
  readonly message: string;
  readonly data: T;
  readonly meta?: ListMeta;
}

export interface ErrorEnvelope {
  readonly success: false;
  readonly statusCode: number;
  readonly message: string;
  readonly errorSources: readonly FieldIssue[];
}

export function ok<T>(data: T, message: string, meta?: ListMeta, statusCode = 200): SuccessEnvelope<T> {
  return meta
    ? { success: true, statusCode, message, data, meta }
    : { success: true, statusCode, message, data };
}

export function failure(
  statusCode: number,
  message: string,
  errorSources: readonly FieldIssue[] = [],
): ErrorEnvelope {
  return { success: false, statusCode, message, errorSources };
}
