/**
 * Password hashing with argon2id (RFC 9106) through `@node-rs/argon2`, which ships prebuilt
 * binaries and needs no install script. argon2id rather than bcrypt: it is memory-hard (GPU and
 * ASIC guessing costs memory, not only time) and has no 72-byte input cut-off. The parameters are
 * OWASP's recommended minimum for argon2id; the hash string records them, so raising them later
 * keeps old hashes verifiable.
 */
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

/** Memory per hash, in KiB (19 MiB). */
export const ARGON2_MEMORY_KIB = 19_456;
/** Passes over that memory. */
export const ARGON2_PASSES = 2;
/** Lanes (threads) per hash. */
export const ARGON2_PARALLELISM = 1;

// The algorithm is the library's default, argon2id (passwords.test.ts checks the `$argon2id$`
// prefix): its `Algorithm` is a const enum, which isolatedModules cannot import.
const OPTIONS = {
  memoryCost: ARGON2_MEMORY_KIB,
  timeCost: ARGON2_PASSES,
  parallelism: ARGON2_PARALLELISM,
} as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /**
   * Spends the time of one verification and answers false: used when the email is unknown, so
   * that a wrong email and a wrong password take comparable time.
   */
  verifyNothing(password: string): Promise<false>;
}

export function createPasswordHasher(): PasswordHasher {
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => hash(password, OPTIONS),
    verify: (passwordHash, password) => verify(passwordHash, password),
    async verifyNothing(password) {
      dummy ??= hash(randomBytes(32).toString('base64url'), OPTIONS);
      await verify(await dummy, password);
      return false;
    },
  };
}
