/**
 * Access tokens: JWTs signed with HS256 through `jose`. Verification pins the algorithm, issuer and
 * audience, so a token with `alg: none`, another algorithm, another secret, an altered claim or a
 * past `exp` is refused. Claims: `sub` (user id), `role`, `cred`, `iat`, `exp`, `iss`, `aud`.
 *
 * The `role` claim is informational, for clients (e.g. to show admin screens); it is never used for
 * authorization. The server identifies the user by `sub` and reads the role from the store on every
 * request (`Accounts.authenticate`), so a changed role takes effect at once, before the token expires.
 * `cred` names the password the token was issued under (accounts.ts `credentialOf`): once the
 * password is replaced, every token issued before is refused.
 */
import { jwtVerify, SignJWT } from 'jose';
import { UnauthorizedError } from '../domain/errors.js';
import type { Role } from '../ports/store.js';

export const TOKEN_ALGORITHM = 'HS256';
export const TOKEN_ISSUER = 'binance-market-stats';
export const TOKEN_AUDIENCE = 'binance-market-stats-api';
/** Longest token accepted for verification, in characters (ours are about 250). */
export const MAX_TOKEN_LENGTH = 2048;
/** The one message for every token that does not check out (malformed, forged, expired, unknown user). */
export const INVALID_TOKEN_MESSAGE = 'invalid or expired token';

export interface TokenClaims {
  readonly userId: string;
  /** Informational for clients; never used for authorization (see the top of this file). */
  readonly role: Role;
  /** Which password the token was issued under (accounts.ts `credentialOf`). */
  readonly credential: string;
}

export interface TokenIssuer {
  sign(claims: TokenClaims): Promise<string>;
  /** Throws UnauthorizedError for any token that does not check out; never says which check failed. */
  verify(token: string): Promise<TokenClaims>;
}

export interface TokenSettings {
  readonly secret: string;
  /** Token lifetime (JWT_EXPIRES_IN), in ms. */
  readonly expiresInMs: number;
  /** Epoch ms; `iat`, `exp` and the expiry check all read it. */
  readonly now: () => number;
}

const isRole = (value: unknown): value is Role => value === 'user' || value === 'admin';

export function createTokenIssuer({ secret, expiresInMs, now }: TokenSettings): TokenIssuer {
  const key = new TextEncoder().encode(secret);
  return {
    async sign({ userId, role, credential }) {
      const issuedAt = Math.floor(now() / 1000);
      return new SignJWT({ role, cred: credential })
        .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
        .setSubject(userId)
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + Math.max(1, Math.floor(expiresInMs / 1000)))
        .sign(key);
    },
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw new UnauthorizedError(INVALID_TOKEN_MESSAGE);
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [TOKEN_ALGORITHM],
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          requiredClaims: ['sub', 'iat', 'exp'],
          currentDate: new Date(now()),
        });
        const { sub, role, cred } = payload;
        if (!sub || !isRole(role) || typeof cred !== 'string') throw new Error('unexpected claims');
        return { userId: sub, role, credential: cred };
      } catch (error) {
        throw new UnauthorizedError(INVALID_TOKEN_MESSAGE, { cause: error });
      }
    },
  };
}
