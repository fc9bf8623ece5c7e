/**
 * ADMIN_EMAIL and ADMIN_PASSWORD at start (SPEC section 3: "an admin account with them is
 * ensured"). The account is created with role `admin` when it is missing. When it exists, its role
 * is raised to `admin` and its password set to ADMIN_PASSWORD unless it already is that one: no
 * route changes a password, so an account holding another one was registered by someone else
 * (anyone may register any email), who must not become admin with a password of their own.
 */
import type { Logger } from 'pino';
import { ConflictError } from '../domain/errors.js';
import type { Store } from '../ports/store.js';
import { normalizeEmail } from './accounts.js';
import type { PasswordHasher } from './passwords.js';

/** Display name of an admin account created from ADMIN_EMAIL. */
export const ADMIN_NAME = 'Administrator';

export interface AdminAccount {
  readonly email: string;
  readonly password: string;
}

export async function ensureAdmin(
  deps: {
    store: Pick<Store, 'createUser' | 'findUserByEmail' | 'updateUser'>;
    passwords: Pick<PasswordHasher, 'hash' | 'verify'>;
    logger: Pick<Logger, 'info'>;
  },
  admin: AdminAccount,
): Promise<void> {
  const { store, passwords, logger } = deps;
  const email = normalizeEmail(admin.email);
  let existing = await store.findUserByEmail(email);
  if (!existing) {
    try {
      await store.createUser({
        name: ADMIN_NAME,
        email,
        role: 'admin',
        passwordHash: await passwords.hash(admin.password),
      });
      logger.info({ email }, 'admin account created');
      return;
    } catch (error) {
      // Another instance created it meanwhile: fall through and make sure of its role.
      if (!(error instanceof ConflictError)) throw error;
      existing = await store.findUserByEmail(email);
      if (!existing) throw error;
    }
  }
  const passwordHolds = await passwords.verify(existing.passwordHash, admin.password);
  if (existing.role === 'admin' && passwordHolds) return;
  await store.updateUser(existing.id, {
    role: 'admin',
    ...(passwordHolds ? {} : { passwordHash: await passwords.hash(admin.password) }),
  });
  logger.info(
    { email },
    passwordHolds ? 'existing account raised to admin' : 'existing account made admin with ADMIN_PASSWORD',
  );
}
