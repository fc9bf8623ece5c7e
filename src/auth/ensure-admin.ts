/**
 * ADMIN_EMAIL and ADMIN_PASSWORD at start (SPEC section 3). The account is created with role
 * `admin` when it is missing; when it exists its role is raised to `admin` and its password is
 * left alone, so a password changed after the first start is not reset by every restart and the
 * variables never silently overwrite a credential.
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
    store: Pick<Store, 'createUser' | 'findUserByEmail' | 'setUserRole'>;
    passwords: Pick<PasswordHasher, 'hash'>;
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
  if (existing.role !== 'admin') {
    await store.setUserRole(existing.id, 'admin');
    logger.info({ email }, 'existing account raised to admin; its password is unchanged');
  }
}
