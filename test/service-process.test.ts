import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startService } from './helpers/service-process.js';

const SECRET = 'test-secret-that-must-never-be-logged-0123456789';
const TOKEN = 'Bearer eyJhbGciOiJIUzI1NiJ9.never-log-me.signature';

describe('the service process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'service-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves on its port, logs JSON lines without secrets, and stops with exit 0 on SIGTERM', async () => {
    const service = startService({
      DATABASE_URL: `sqlite:${join(dir, 'market.db')}`,
      JWT_SECRET: SECRET,
      ADMIN_EMAIL: 'admin@example.com',
      ADMIN_PASSWORD: 'admin-password-never-logged',
      LOG_LEVEL: 'info',
    });
    const url = await service.url;
    const response = await fetch(`${url}/api/v1/system/health`, { headers: { authorization: TOKEN } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ success: true, data: { status: 'ok' } });
    await fetch(`${url}/api/v1/symbols?search=${encodeURIComponent('a')}`, {
      headers: { authorization: TOKEN },
    });

    service.child.kill('SIGTERM');
    expect(await service.exit).toBe(0);
    expect(service.lines.length).toBeGreaterThan(2);
    for (const line of service.lines) {
      expect(() => JSON.parse(line) as unknown, line).not.toThrow();
      expect(line).not.toContain(SECRET);
      expect(line).not.toContain('never-log-me');
      expect(line).not.toContain('admin-password-never-logged');
    }
    expect(service.lines.some((line) => line.includes('"[redacted]"'))).toBe(true);
    expect(service.lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  });

  it('stops on SIGINT too', async () => {
    const service = startService({ DATABASE_URL: 'sqlite::memory:' });
    expect((await fetch(`${await service.url}/api/v1/system/health`)).status).toBe(200);
    service.child.kill('SIGINT');
    expect(await service.exit).toBe(0);
  });

  it('refuses to start on invalid configuration, naming every bad variable at once', async () => {
    const service = startService({
      PORT: 'eighty',
      INTERVAL_TIMEZONE: 'Nowhere/Land',
      BACKFILL_LOOKBACK: '1 day',
    });
    expect(await service.exit).toBe(1);
    const message = service.stderr.join('');
    expect(message).toContain('PORT');
    expect(message).toContain('INTERVAL_TIMEZONE');
    expect(message).toContain('BACKFILL_LOOKBACK');
  });
});
