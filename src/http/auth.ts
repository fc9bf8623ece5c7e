/**
 * Request authentication and role guards (SPEC section 5). A guard runs at `onRequest`, before the
 * body is read: no `Authorization: Bearer <token>` or a token that does not check out is 401, a
 * role that does not fit is 403. The authenticated user is `request.user`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Accounts, PublicUser } from '../auth/accounts.js';
import { INVALID_TOKEN_MESSAGE } from '../auth/tokens.js';
import { ForbiddenError, UnauthorizedError } from '../domain/errors.js';
import type { Role } from '../ports/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by an auth guard; null on routes without one. */
    user: PublicUser | null;
  }
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** OpenAPI `security` of a guarded route (the `bearerAuth` scheme that build-app declares). */
export const BEARER_SECURITY = [{ bearerAuth: [] }];

export type AuthGuard = (request: FastifyRequest) => Promise<void>;

export interface AuthGuards {
  /** Any signed-in account. */
  readonly requireUser: AuthGuard;
  readonly requireAdmin: AuthGuard;
}

/** The user a guard has authenticated (only call on a guarded route). */
export function currentUser(request: FastifyRequest): PublicUser {
  if (!request.user) throw new UnauthorizedError('authentication required');
  return request.user;
}

export function registerAuthentication(app: FastifyInstance, accounts: Accounts): AuthGuards {
  app.decorateRequest('user', null);

  const requireRole =
    (roles: readonly Role[]): AuthGuard =>
    async (request) => {
      const header = request.headers.authorization;
      if (!header) throw new UnauthorizedError('authentication required');
      const token = BEARER.exec(header)?.[1];
      if (!token) throw new UnauthorizedError(INVALID_TOKEN_MESSAGE);
      const user = await accounts.authenticate(token);
      if (!roles.includes(user.role)) throw new ForbiddenError(`requires the ${roles.join(' or ')} role`);
      request.user = user;
    };

  return { requireUser: requireRole(['user', 'admin']), requireAdmin: requireRole(['admin']) };
}
