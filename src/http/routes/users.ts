/**
 * `/users/register`, `/users/login` and `/users/me` (SPEC section 5). Bodies are strict: an unknown
 * field (`role` included) is a 400 naming it, and a non-string where a string belongs is a 400, so
 * nothing but a name, an email and a password reaches the accounts service.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  EMAIL_MAX_LENGTH,
  NAME_MAX_LENGTH,
  NAME_MIN_LENGTH,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  type Accounts,
} from '../../auth/accounts.js';
import { BEARER_SECURITY, currentUser, type AuthGuards } from '../auth.js';
import { ok } from '../envelope.js';
import { envelope, errors, sessionSchema, userSchema } from '../responses.js';
import { withoutControlCharacters } from '../schemas.js';
import type { AttemptGuards } from '../rate-limits.js';

export interface UserRouteDeps {
  readonly accounts: Accounts;
  readonly auth: AuthGuards;
  readonly limits: AttemptGuards;
}

/** Trimmed and lower-cased before it is checked, so `Ada@Example.com ` and `ada@example.com` are one account. */
const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(EMAIL_MAX_LENGTH, `must be at most ${EMAIL_MAX_LENGTH} characters`)
  .pipe(z.email({ message: 'must be an email address' }));

const registerBody = z.strictObject({
  name: withoutControlCharacters(
    z
      .string()
      .trim()
      .min(NAME_MIN_LENGTH, `must be at least ${NAME_MIN_LENGTH} character`)
      .max(NAME_MAX_LENGTH, `must be at most ${NAME_MAX_LENGTH} characters`),
  ),
  email,
  password: z
    .string()
    .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
    .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`),
});

// No minimum here: a wrong password of any length gets the one "invalid email or password" answer.
const loginBody = z.strictObject({
  email,
  password: z
    .string()
    .min(1, 'must not be empty')
    .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`),
});

export function userRoutes({ accounts, auth, limits }: UserRouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/users/register',
      {
        schema: {
          tags: ['users'],
          summary: 'Create an account (role user); answers the user and an access token',
          body: registerBody,
          response: {
            201: envelope(sessionSchema, 'registered'),
            ...errors(400, 409, 413, 429),
          },
        },
        onRequest: limits.registerPerIp,
        preHandler: limits.registerPerEmail,
      },
      async (request, reply) => {
        const { user, accessToken } = await accounts.register(request.body);
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .send(ok({ user, accessToken }, 'registered', undefined, 201));
      },
    );

    app.post(
      '/users/login',
      {
        schema: {
          tags: ['users'],
          summary: 'Exchange an email and password for an access token',
          body: loginBody,
          response: {
            200: envelope(sessionSchema, 'logged in'),
            ...errors(400, 401, 413, 429),
          },
        },
        onRequest: limits.loginPerIp,
        preHandler: limits.loginPerAccount,
      },
      async (request, reply) => {
        const { accessToken, user } = await accounts.login(request.body);
        return reply.header('cache-control', 'no-store').send(ok({ accessToken, user }, 'logged in'));
      },
    );

    app.get(
      '/users/me',
      {
        schema: {
          tags: ['users'],
          summary: 'The caller',
          security: BEARER_SECURITY,
          response: { 200: envelope(userSchema, 'current user'), ...errors(401) },
        },
        onRequest: auth.requireUser,
      },
      async (request) => ok(currentUser(request), 'current user'),
    );
  };
}
