import { describe, expect, it } from 'vitest';
import { ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_PASSES, createPasswordHasher } from './passwords.js';

describe('password hashing', () => {
  const passwords = createPasswordHasher();

  it('hashes with argon2id at the configured cost, salted, and verifies only the right password', async () => {
    const first = await passwords.hash('correct horse battery');
    const second = await passwords.hash('correct horse battery');
    expect(first).toMatch(
      new RegExp(
        `^\\$argon2id\\$v=19\\$m=${ARGON2_MEMORY_KIB},t=${ARGON2_PASSES},p=${ARGON2_PARALLELISM}\\$`,
      ),
    );
    expect(first).not.toBe(second);
    expect(first).not.toContain('correct horse');
    expect(await passwords.verify(first, 'correct horse battery')).toBe(true);
    expect(await passwords.verify(first, 'correct horse battery ')).toBe(false);
  });

  it('spends about one verification on an unknown account and answers false', async () => {
    const hash = await passwords.hash('the real password');
    await passwords.verifyNothing('warm-up'); // the first call also builds the dummy hash
    const medianMs = async (run: () => Promise<boolean>): Promise<number> => {
      const times: number[] = [];
      for (let round = 0; round < 3; round++) {
        const started = performance.now();
        expect(await run()).toBe(false);
        times.push(performance.now() - started);
      }
      return times.sort((a, b) => a - b)[1]!;
    };
    const verifyMs = await medianMs(() => passwords.verify(hash, 'a wrong password'));
    const nothingMs = await medianMs(() => passwords.verifyNothing('a wrong password'));
    expect(nothingMs).toBeGreaterThan(verifyMs * 0.3);
  });
});
