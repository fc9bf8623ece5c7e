/**
 * The token signing secret: JWT_SECRET when set; otherwise one generated once and kept in the
 * store, so every instance on the same store signs and verifies alike and tokens survive a restart.
 * Either store-kept case is logged as a warning (never the secret itself).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../ports/store.js';

/** The settings key under which a generated secret is kept. */
export const JWT_SECRET_SETTING = 'auth.jwtSecret';
/** Randomness in a generated secret, in bytes (384 bits; HS256 needs at least 256). */
export const GENERATED_SECRET_BYTES = 48;

export async function resolveJwtSecret(
  store: Pick<Store, 'setSettingIfMissing'>,
  configured: string | undefined,
  logger: Pick<Logger, 'warn'>,
): Promise<string> {
  if (configured) return configured;
  // One write that keeps whatever is stored already (kept by an earlier start or, meanwhile, by
  // another instance), so all agree; only when our candidate is what the store holds was it new.
  const generated = randomBytes(GENERATED_SECRET_BYTES).toString('base64url');
  const stored = await store.setSettingIfMissing(JWT_SECRET_SETTING, generated);
  logger.warn(
    stored === generated
      ? 'JWT_SECRET is unset: generated a signing secret and kept it in the store; set JWT_SECRET in production'
      : 'JWT_SECRET is unset: signing tokens with the secret kept in the store',
  );
  return stored;
}
