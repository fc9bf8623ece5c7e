/**
 * Accounts for one app: resolves the signing secret (JWT_SECRET, or the one kept in the store),
 * ensures the configured admin, and wires passwords and tokens into the accounts service.
 */
import type { Logger } from 'pino';
import type { Store } from '../ports/store.js';
import { createAccounts, type Accounts } from './accounts.js';
import { ensureAdmin, type AdminAccount } from './ensure-admin.js';
import { resolveJwtSecret } from './jwt-secret.js';
import { createPasswordHasher } from './passwords.js';
import { createTokenIssuer } from './tokens.js';

/** JWT_EXPIRES_IN's default (SPEC section 3), in ms. */
export const DEFAULT_TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000;

export interface AuthSettings {
  /** JWT_SECRET; unset: generated once and kept in the store. */
  readonly jwtSecret?: string | undefined;
  /** JWT_EXPIRES_IN, in ms. */
  readonly jwtExpiresInMs?: number | undefined;
  /** ADMIN_EMAIL and ADMIN_PASSWORD, when both are set. */
  readonly admin?: AdminAccount | undefined;
}

/** A pino logger, or Fastify's view of one. */
export interface AuthLogger {
  child(bindings: { module: string }): Pick<Logger, 'info' | 'warn'>;
}

export async function setUpAccounts(
  deps: { store: Store; logger: AuthLogger; now: () => number },
  settings: AuthSettings = {},
): Promise<Accounts> {
  const { store, now } = deps;
  const logger = deps.logger.child({ module: 'auth' });
  const passwords = createPasswordHasher();
  const secret = await resolveJwtSecret(store, settings.jwtSecret, logger);
  if (settings.admin) await ensureAdmin({ store, passwords, logger }, settings.admin);
  const tokens = createTokenIssuer({
    secret,
    expiresInMs: settings.jwtExpiresInMs ?? DEFAULT_TOKEN_LIFETIME_MS,
    now,
  });
  return createAccounts({ store, passwords, tokens });
}
