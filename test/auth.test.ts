/**
 * Accounts and tokens over HTTP (issue 5): registration, login, /users/me, and every way a token
 * can be forged or outlived. Real parts: the app via inject() on SQLite (in memory or a file).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { JWT_SECRET_SETTING, resolveJwtSecret } from '../src/auth/jwt-secret.js';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../src/auth/tokens.js';
import {
  capturingLogger,
  closingAfterEach,
  createTestApp,
  TEST_JWT_SECRET,
  type TestApp,
} from './helpers/app.js';
import { call, login, registerUser, type PublicUserJson, type SessionJson } from './helpers/http.js';

const dir = mkdtempSync(join(tmpdir(), 'auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open = closingAfterEach();

const me = (t: TestApp, token: string) => call<PublicUserJson>(t.app, 'GET', '/users/me', { token });

/** Claims as our tokens carry them, for forging tokens the service must refuse. */
/** A token's claims; `cred` as the service's own tokens carry it (a token without it is refused). */
function claims(userId: string, role: string, cred?: unknown) {
  const iat = Math.floor(Date.now() / 1000);
  return { sub: userId, role, cred, iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat, exp: iat + 3600 };
}

describe('accounts', () => {
  it('registers an account with role user and answers its user and an access token', async () => {
    const t = await open();
    const answer = await call<SessionJson>(t.app, 'POST', '/users/register', {
      body: { name: '  Ada Lovelace ', email: ' Ada@Example.COM ', password: 'analytical engine' },
    });
    expect(answer.status).toBe(201);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.body).toMatchObject({ success: true, statusCode: 201 });
    const { user, accessToken } = answer.body.data;
    expect(user).toEqual({
      id: expect.any(String) as string,
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      role: 'user',
      createdAt: expect.any(Number) as number,
    });
    expect(decodeJwt(accessToken)).toMatchObject({ sub: user.id, role: 'user' });
    const stored = await t.store.findUserByEmail('ada@example.com');
    expect(stored?.role).toBe('user');
    expect(stored?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(answer.text).not.toContain(stored?.passwordHash);
    expect(answer.text).not.toContain('analytical engine');
  });

  it('logs in with the email in any case and answers a token and the user, never the hash', async () => {
    const t = await open();
    const registered = await registerUser(t.app, { email: 'grace@example.com' });
    const answer = await login(t.app, '  GRACE@example.com', registered.password);
    expect(answer.status).toBe(200);
    expect(answer.body.data.user).toEqual(registered.user);
    expect(decodeJwt(answer.body.data.accessToken).sub).toBe(registered.user.id);
    expect(answer.text).not.toMatch(/argon2|passwordHash/);
  });

  it('answers the caller on /users/me with a token from login or from registration', async () => {
    const t = await open();
    const registered = await registerUser(t.app);
    const fromLogin = (await login(t.app, registered.user.email, registered.password)).body.data.accessToken;
    for (const token of [registered.accessToken, fromLogin]) {
      const answer = await me(t, token);
      expect(answer.status).toBe(200);
      expect(answer.body.data).toEqual(registered.user);
    }
  });

  it('answers one 401 message for an unknown email and a wrong password, in comparable time', async () => {
    const t = await open();
    const registered = await registerUser(t.app);
    const wrongPassword = await login(t.app, registered.user.email, 'not the password', '10.3.0.1');
    const unknownEmail = await login(t.app, 'nobody@example.com', 'not the password', '10.3.0.2');
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(unknownEmail.body.message).toBe(wrongPassword.body.message);
    expect(unknownEmail.body).toMatchObject({ success: false, statusCode: 401, errorSources: [] });

    // Without a verification against a dummy hash, an unknown email answers many times faster.
    const time = async (email: string, ip: string): Promise<number> => {
      const started = performance.now();
      expect((await login(t.app, email, 'not the password', ip)).status).toBe(401);
      return performance.now() - started;
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let round = 0; round < 5; round++) {
      known.push(await time(registered.user.email, `10.4.0.${round}`));
      unknown.push(await time('nobody@example.com', `10.5.0.${round}`));
    }
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.4);
  });

  it('answers 409 for an email that is already registered, in any case', async () => {
    const t = await open();
    await registerUser(t.app, { email: 'taken@example.com' });
    const again = await call(t.app, 'POST', '/users/register', {
      body: { name: 'Other', email: 'TAKEN@example.com', password: 'another password' },
    });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ success: false, statusCode: 409 });
  });

  it('refuses a registration that asks for the admin role, naming the field, and stores nothing', async () => {
    const t = await open();
    const answer = await call(t.app, 'POST', '/users/register', {
      body: { name: 'Mallory', email: 'mallory@example.com', password: 'let me in please', role: 'admin' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.errorSources).toEqual([{ path: 'role', message: 'is not allowed' }]);
    expect(await t.store.findUserByEmail('mallory@example.com')).toBeUndefined();
  });

  it('names every bad field of a registration: name, email and password bounds', async () => {
    const t = await open();
    const answer = await call(t.app, 'POST', '/users/register', {
      body: { name: '   ', email: 'not-an-email', password: 'short' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.errorSources?.map((issue) => issue.path).sort()).toEqual([
      'email',
      'name',
      'password',
    ]);
    const tooLong = await call(t.app, 'POST', '/users/register', {
      body: { name: 'n'.repeat(101), email: 'long@example.com', password: 'p'.repeat(129) },
    });
    expect(tooLong.body.errorSources?.map((issue) => issue.path).sort()).toEqual(['name', 'password']);
  });
});

describe('tokens', () => {
  it('answers 401 in the envelope without a token, with another scheme and with a malformed token', async () => {
    const t = await open();
    const cases: Record<string, string>[] = [
      {},
      { authorization: 'Basic YWRhOnBhc3N3b3Jk' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer not.a.jwt' },
      { authorization: `Bearer ${'a'.repeat(5000)}` },
    ];
    for (const headers of cases) {
      const answer = await call(t.app, 'GET', '/users/me', { headers });
      expect(answer.status, JSON.stringify(headers).slice(0, 60)).toBe(401);
      expect(answer.body).toMatchObject({ success: false, statusCode: 401 });
      expect(answer.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('refuses a token with alg none', async () => {
    const t = await open();
    const { user } = await registerUser(t.app);
    const unsigned = new UnsecuredJWT(claims(user.id, 'admin')).encode();
    expect((await me(t, unsigned)).status).toBe(401);
  });

  it('refuses a token signed with another secret, with the right secret under another algorithm, or without cred', async () => {
    const t = await open();
    const { user, accessToken } = await registerUser(t.app);
    const { cred } = decodeJwt(accessToken);
    const sign = (secret: string, alg: string, credential = cred) =>
      new SignJWT(claims(user.id, 'user', credential))
        .setProtectedHeader({ alg })
        .sign(new TextEncoder().encode(secret));
    expect((await me(t, await sign(TEST_JWT_SECRET, 'HS256'))).status).toBe(200);
    expect((await me(t, await sign('another-secret-of-enough-length-0123456789', 'HS256'))).status).toBe(401);
    expect((await me(t, await sign(TEST_JWT_SECRET, 'HS512'))).status).toBe(401);
    expect((await me(t, await sign(TEST_JWT_SECRET, 'HS256', null))).status).toBe(401);
  });

  it('refuses a token whose role claim was changed to admin', async () => {
    const t = await open();
    const { accessToken } = await registerUser(t.app);
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const claimsJson = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const tampered = Buffer.from(JSON.stringify({ ...claimsJson, role: 'admin' })).toString('base64url');
    const forged = `${header}.${tampered}.${signature}`;
    expect((await me(t, forged)).status).toBe(401);
    const admin = await call(t.app, 'POST', '/symbols', { token: forged, body: { symbol: 'BTCUSDT' } });
    expect(admin.status).toBe(401);
    expect(await t.store.getSymbol('BTCUSDT')).toBeUndefined();
  });

  it('accepts a token until JWT_EXPIRES_IN has passed and refuses it after', async () => {
    let clock = Date.parse('2026-03-01T00:00:00Z');
    const t = await open({
      now: () => clock,
      auth: { jwtSecret: TEST_JWT_SECRET, jwtExpiresInMs: 15 * 60_000 },
    });
    const { accessToken } = await registerUser(t.app);
    const { exp, iat } = decodeJwt(accessToken);
    expect(exp! - iat!).toBe(15 * 60);
    clock += 14 * 60_000;
    expect((await me(t, accessToken)).status).toBe(200);
    clock += 2 * 60_000;
    const expired = await me(t, accessToken);
    expect(expired.status).toBe(401);
    expect(expired.body.message).toBe('invalid or expired token');
  });
});

describe('the signing secret and the admin account at start', () => {
  it("generates the secret once, keeps it in the store, and two instances on one file accept each other's tokens", async () => {
    const path = join(dir, 'shared-secret.db');
    const first = capturingLogger();
    const a = await open({ path, auth: {}, logger: first.logger });
    const secret = await a.store.getSetting(JWT_SECRET_SETTING);
    expect(secret?.length).toBeGreaterThanOrEqual(64);
    const second = capturingLogger();
    const b = await open({ path, auth: {}, logger: second.logger });
    expect(await b.store.getSetting(JWT_SECRET_SETTING)).toBe(secret);

    const { accessToken, user } = await registerUser(a.app);
    const answer = await me(b, accessToken);
    expect(answer.status).toBe(200);
    expect(answer.body.data.id).toBe(user.id);

    for (const lines of [first.lines, second.lines]) {
      const warning = lines.find((line) => line.includes('JWT_SECRET is unset'));
      expect(warning).toContain('"level":40');
      expect(lines.join('\n')).not.toContain(secret);
    }
  });

  it('resolves the secret with one conditional write and says whether it generated it', async () => {
    const settings = new Map<string, string>();
    let writes = 0;
    // No getSetting: the one setSettingIfMissing call both reads and, when empty, writes.
    const store = {
      setSettingIfMissing: async (key: string, value: string) => {
        writes++;
        if (!settings.has(key)) settings.set(key, value);
        return settings.get(key)!;
      },
    };
    const warnings: string[] = [];
    const logger = { warn: (message: string) => void warnings.push(message) };

    const generated = await resolveJwtSecret(store, undefined, logger);
    expect(settings.get(JWT_SECRET_SETTING)).toBe(generated);
    const kept = await resolveJwtSecret(store, undefined, logger);
    expect(kept).toBe(generated);
    expect(writes).toBe(2);
    expect(warnings).toEqual([
      'JWT_SECRET is unset: generated a signing secret and kept it in the store; set JWT_SECRET in production',
      'JWT_SECRET is unset: signing tokens with the secret kept in the store',
    ]);

    expect(await resolveJwtSecret(store, TEST_JWT_SECRET, logger)).toBe(TEST_JWT_SECRET);
    expect(writes).toBe(2);
    expect(warnings).toHaveLength(2);
  });

  it('signs with JWT_SECRET when it is set and writes no secret to the store', async () => {
    const t = await open({ auth: { jwtSecret: TEST_JWT_SECRET } });
    expect(await t.store.getSetting(JWT_SECRET_SETTING)).toBeUndefined();
  });

  it('creates the admin account from ADMIN_EMAIL and ADMIN_PASSWORD, and it can log in as admin', async () => {
    const t = await open({
      auth: { jwtSecret: TEST_JWT_SECRET, admin: { email: 'Root@Example.com', password: 'root-password' } },
    });
    const answer = await login(t.app, 'root@example.com', 'root-password');
    expect(answer.status).toBe(200);
    expect(answer.body.data.user).toMatchObject({ email: 'root@example.com', role: 'admin' });
  });

  it('makes an account someone registered with the admin email admin only with ADMIN_PASSWORD', async () => {
    const path = join(dir, 'raise-admin.db');
    const first = await createTestApp({ path }); // closed here, before the second opens the file
    const registered = await registerUser(first.app, {
      email: 'ops@example.com',
      password: 'original-password',
    });
    expect(registered.user.role).toBe('user');
    await first.app.close();

    const t = await open({
      path,
      auth: { jwtSecret: TEST_JWT_SECRET, admin: { email: 'ops@example.com', password: 'env-password' } },
    });
    // The registrant's own password no longer opens the admin account; ADMIN_PASSWORD does.
    expect((await login(t.app, 'ops@example.com', 'original-password')).status).toBe(401);
    // Nor does the token the registrant got before: it was issued under the replaced password.
    expect((await me(t, registered.accessToken)).status).toBe(401);
    const bySquatter = await call(t.app, 'POST', '/symbols', {
      token: registered.accessToken,
      body: { symbol: 'EVILUSDT' },
    });
    expect(bySquatter.status).toBe(401);
    expect(await t.store.getSymbol('EVILUSDT')).toBeUndefined();
    const asAdmin = await login(t.app, 'ops@example.com', 'env-password', '10.9.0.1');
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.data.user).toMatchObject({ id: registered.user.id, role: 'admin' });
    await t.app.close();

    // A restart with the same variables finds the account as it should be and leaves it so.
    const again = await open({
      path,
      auth: { jwtSecret: TEST_JWT_SECRET, admin: { email: 'ops@example.com', password: 'env-password' } },
    });
    expect((await login(again.app, 'ops@example.com', 'env-password')).body.data.user).toMatchObject({
      id: registered.user.id,
      role: 'admin',
    });
    // The admin's token from before the restart still holds: the password was not replaced again.
    expect((await me(again, asAdmin.body.data.accessToken)).body.data).toMatchObject({ role: 'admin' });
  });

  it('writes no password, hash or token into a log line', async () => {
    const { lines, logger } = capturingLogger();
    const t = await open({ logger });
    const password = 'a-password-for-the-logs';
    const { accessToken, user } = await registerUser(t.app, { password });
    await login(t.app, user.email, password);
    await login(t.app, user.email, 'wrong-password-for-the-logs');
    await me(t, accessToken);
    const stored = await t.store.findUserByEmail(user.email);
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join('\n');
    for (const secret of [
      password,
      'wrong-password-for-the-logs',
      accessToken,
      stored!.passwordHash,
      TEST_JWT_SECRET,
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
