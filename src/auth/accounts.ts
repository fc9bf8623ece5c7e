/**
 * Accounts (SPEC section 5): registration, login and token authentication. The role of a new
 * account is always `user`; no password hash ever leaves this module (see `toPublicUser`). A token
 * holds only while the account keeps the password it was issued under (`credentialOf`), so
 * replacing a password (ensure-admin.ts taking over an account registered with ADMIN_EMAIL, or a
 * rotated ADMIN_PASSWORD) refuses every token issued before.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConflictError, UnauthorizedError } from '../domain/errors.js';
import type { Role, Store, UserRecord } from '../ports/store.js';
import type { PasswordHasher } from './passwords.js';
import { INVALID_TOKEN_MESSAGE, type TokenIssuer } from './tokens.js';

/** Length bounds of a display name, in characters (after trimming). */
export const NAME_MIN_LENGTH = 1;
export const NAME_MAX_LENGTH = 100;
/** Longest email address, in characters (RFC 5321's path limit). */
export const EMAIL_MAX_LENGTH = 254;
/** Length bounds of a password, in characters; the upper bound caps hashing work per request. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/** The `user` of SPEC section 5. */
export interface PublicUser {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly role: Role;
  readonly createdAt: number;
}

export interface Registration {
  readonly name: string;
  readonly email: string;
  readonly password: string;
}

export interface Credentials {
  readonly email: string;
  readonly password: string;
}

export interface Session {
  readonly accessToken: string;
  readonly user: PublicUser;
}

export interface Accounts {
  /** Throws ConflictError when the email is taken. */
  register(registration: Registration): Promise<Session>;
  /** Throws UnauthorizedError with one message for an unknown email and a wrong password alike. */
  login(credentials: Credentials): Promise<Session>;
  /** The user a token belongs to, with the role the store holds now; UnauthorizedError otherwise. */
  authenticate(token: string): Promise<PublicUser>;
}

/** Emails compare case-insensitively; they are stored trimmed and lower-cased. */
export function normalizeEmail(text: string): string {
  return text.trim().toLowerCase();
}

/** Field by field, so that a field added to UserRecord (a hash, a secret) is never sent by accident. */
export function toPublicUser(record: UserRecord): PublicUser {
  return {
    id: record.id,
    name: record.name,
    email: record.email,
    role: record.role,
    createdAt: record.createdAt,
  };
}

const WRONG_CREDENTIALS = 'invalid email or password';

/**
 * The `cred` claim: a digest of the stored password hash, which a new password changes (argon2's
 * salt makes it change even for the same password). It names the hash without revealing it.
 */
function credentialOf(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url');
}

function sameCredential(claimed: string, current: string): boolean {
  const a = Buffer.from(claimed);
  const b = Buffer.from(current);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createAccounts(deps: {
  store: Pick<Store, 'createUser' | 'findUserByEmail' | 'findUserById'>;
  passwords: PasswordHasher;
  tokens: TokenIssuer;
}): Accounts {
  const { store, passwords, tokens } = deps;

  async function session(record: UserRecord): Promise<Session> {
    const accessToken = await tokens.sign({
      userId: record.id,
      role: record.role,
      credential: credentialOf(record.passwordHash),
    });
    return { accessToken, user: toPublicUser(record) };
  }

  return {
    async register({ name, email, password }) {
      const normalized = normalizeEmail(email);
      if (await store.findUserByEmail(normalized)) {
        throw new ConflictError('an account with this email exists');
      }
      const record = await store.createUser({
        name: name.trim(),
        email: normalized,
        role: 'user',
        passwordHash: await passwords.hash(password),
      });
      return session(record);
    },

    async login({ email, password }) {
      const record = await store.findUserByEmail(normalizeEmail(email));
      const matches = record
        ? await passwords.verify(record.passwordHash, password)
        : await passwords.verifyNothing(password);
      if (!record || !matches) throw new UnauthorizedError(WRONG_CREDENTIALS);
      return session(record);
    },

    async authenticate(token) {
      const claims = await tokens.verify(token);
      const record = await store.findUserById(claims.userId);
      if (!record || !sameCredential(claims.credential, credentialOf(record.passwordHash))) {
        throw new UnauthorizedError(INVALID_TOKEN_MESSAGE);
      }
      return toPublicUser(record);
    },
  };
}
