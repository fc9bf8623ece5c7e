import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig, loadConfigFromProcess } from './config.js';

/** The message of the ConfigError that `env` stops the service with. */
function failureOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  it('runs with no configuration on the defaults of SPEC section 3', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 5000,
      host: '0.0.0.0',
      databaseUrl: 'sqlite:data/market.db',
      redisUrl: undefined,
      binanceWsUrl: 'wss://stream.binance.com:9443',
      binanceRestUrl: 'https://api.binance.com',
      symbols: undefined,
      trackTop: 242,
      intervalHours: [1, 5, 9, 13, 17, 21],
      intervalTimeZone: 'UTC',
      backfillLookbackMs: 86_400_000,
      priceHistoryRetentionMs: 7 * 86_400_000,
      broadcastIntervalMs: 1000,
      historyOnSubscribeMs: 3_600_000,
      jwtSecret: undefined,
      jwtExpiresInMs: 86_400_000,
      admin: undefined,
      corsOrigins: ['*'],
      trustProxy: false,
      logLevel: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'sqlite::memory:',
      REDIS_URL: 'redis://localhost:6379',
      BINANCE_WS_URL: 'ws://localhost:9000/',
      BINANCE_REST_URL: 'http://localhost:9001',
      SYMBOLS: 'btcusdt, ETHUSDT,,BTCUSDT',
      TRACK_TOP: '50',
      INTERVAL_HOURS: '17,0,9',
      INTERVAL_TIMEZONE: 'Europe/London',
      BACKFILL_LOOKBACK: '90s',
      PRICE_HISTORY_RETENTION: '23h',
      BROADCAST_INTERVAL_MS: '500',
      HISTORY_ON_SUBSCRIBE: '15m',
      JWT_SECRET: 'x'.repeat(32),
      JWT_EXPIRES_IN: '7d',
      ADMIN_EMAIL: 'admin@example.com',
      ADMIN_PASSWORD: 'correct horse',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      port: 8080,
      binanceWsUrl: 'ws://localhost:9000',
      symbols: ['BTCUSDT', 'ETHUSDT'],
      intervalHours: [0, 9, 17],
      intervalTimeZone: 'Europe/London',
      backfillLookbackMs: 90_000,
      priceHistoryRetentionMs: 23 * 3_600_000,
      historyOnSubscribeMs: 15 * 60_000,
      admin: { email: 'admin@example.com', password: 'correct horse' },
      corsOrigins: ['https://a.example', 'https://b.example'],
      trustProxy: ['10.0.0.0/8', '127.0.0.1'],
    });
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });

  it('takes numbers only in decimal digits, never as hexadecimal, exponent or fraction', () => {
    for (const [name, value] of [
      ['INTERVAL_HOURS', '0x11'],
      ['INTERVAL_HOURS', '1e1,17'],
      ['INTERVAL_HOURS', '9.0'],
      ['PORT', '0x1F4'],
      ['TRACK_TOP', '1e2'],
      ['BROADCAST_INTERVAL_MS', '500.0'],
    ] as const) {
      expect(() => loadConfig({ [name]: value }), `${name}=${value}`).toThrow(ConfigError);
    }
    expect(loadConfig({ INTERVAL_HOURS: ' 17 , 0,09 ', PORT: ' 8080 ' })).toMatchObject({
      intervalHours: [0, 9, 17],
      port: 8080,
    });
  });

  it('warns, without refusing to start, when only one of ADMIN_EMAIL and ADMIN_PASSWORD is set', () => {
    expect(loadConfig({}).warnings).toEqual([]);
    expect(loadConfig({ ADMIN_EMAIL: 'a@example.com', ADMIN_PASSWORD: 'correct horse' }).warnings).toEqual(
      [],
    );
    expect(loadConfig({ ADMIN_EMAIL: 'a@example.com' })).toMatchObject({
      admin: undefined,
      warnings: ['ADMIN_EMAIL is set without ADMIN_PASSWORD: no admin account is ensured'],
    });
    expect(loadConfig({ ADMIN_PASSWORD: 'correct horse', ADMIN_EMAIL: ' ' }).warnings).toEqual([
      'ADMIN_PASSWORD is set without ADMIN_EMAIL: no admin account is ensured',
    ]);
  });

  it('warns, without refusing to start, when price history is kept for less than HISTORY_ON_SUBSCRIBE', () => {
    expect(loadConfig({ PRICE_HISTORY_RETENTION: '1h', HISTORY_ON_SUBSCRIBE: '1h' }).warnings).toEqual([]);
    expect(loadConfig({ PRICE_HISTORY_RETENTION: '30m' }).warnings).toEqual([
      'PRICE_HISTORY_RETENTION (1800 s) is shorter than HISTORY_ON_SUBSCRIBE (3600 s): historical_data read from the store holds only what is retained',
    ]);
  });

  it('treats blank variables as unset', () => {
    expect(loadConfig({ PORT: '', SYMBOLS: '', HOST: '  ' })).toMatchObject({
      port: 5000,
      symbols: undefined,
      host: '0.0.0.0',
    });
  });

  it('refuses a list of separators only instead of reading it as an empty list', () => {
    // SYMBOLS="," would track nothing, and store that choice; CORS_ORIGINS="," would allow no origin.
    for (const name of ['SYMBOLS', 'CORS_ORIGINS', 'TRUST_PROXY']) {
      expect(failureOf({ [name]: ' , ,' }), name).toMatch(new RegExp(`${name}: lists no `));
    }
  });

  it('refuses URLs that do not parse, naming the variable and echoing no password', () => {
    const message = failureOf({
      DATABASE_URL: 'postgres://user:s3cret@db:notaport/market',
      REDIS_URL: 'redis://:s3cret@a b:99999',
      BINANCE_WS_URL: 'wss://',
      BINANCE_REST_URL: 'https://exa mple.com',
    });
    expect(message).toMatch(/DATABASE_URL: is not a URL PostgreSQL can read/);
    expect(message).toMatch(/REDIS_URL: is not a URL/);
    expect(message).toMatch(/BINANCE_WS_URL: is not a URL with a host/);
    expect(message).toMatch(/BINANCE_REST_URL: is not a URL with a host/);
    expect(message).not.toContain('s3cret');
    // What node-postgres and ioredis read: a socket directory instead of a host, a bare redis://.
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@/market?host=/var/run/postgresql' })).toBeDefined();
    expect(loadConfig({ REDIS_URL: 'redis://' }).redisUrl).toBe('redis://');
  });

  it('refuses a HOST with spaces and a TRUST_PROXY entry that is no address or range', () => {
    const message = failureOf({ HOST: 'my host', TRUST_PROXY: '10.0.0.0/33, abc' });
    expect(message).toMatch(/HOST: must be a host name or an address/);
    expect(message).toMatch(/TRUST_PROXY: .*10\.0\.0\.0\/33/);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/255.0.0.0, ::1/128' }).trustProxy).toEqual([
      'loopback',
      '10.0.0.0/255.0.0.0',
      '::1/128',
    ]);
  });

  it('takes durations as long as their ms stay exact integers, a "keep forever" retention included', () => {
    expect(loadConfig({ PRICE_HISTORY_RETENTION: '99999d', BACKFILL_LOOKBACK: '36500d' })).toMatchObject({
      priceHistoryRetentionMs: 99_999 * 86_400_000,
      backfillLookbackMs: 36_500 * 86_400_000,
    });
    const message = failureOf({ PRICE_HISTORY_RETENTION: '999999999d', JWT_EXPIRES_IN: '100000001d' });
    expect(message).toMatch(/PRICE_HISTORY_RETENTION: at most 100000000d/);
    expect(message).toMatch(/JWT_EXPIRES_IN: at most 100000000d/);
  });

  it('stops with one message naming every bad variable', () => {
    const bad = {
      PORT: '99999',
      DATABASE_URL: 'mysql://x',
      INTERVAL_HOURS: '1,25',
      INTERVAL_TIMEZONE: 'Mars/Olympus',
      PRICE_HISTORY_RETENTION: 'a week',
      LOG_LEVEL: 'loud',
      SYMBOLS: 'BTC-USDT',
      JWT_SECRET: 'short',
      HISTORY_ON_SUBSCRIBE: '2h', // more than one historical_data carries
    };
    let error: unknown;
    try {
      loadConfig(bad);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of Object.keys(bad)) expect(message).toContain(name);
    expect(message).not.toContain('short'); // a bad secret is named, never echoed
  });

  it('names a DATABASE_URL that names no store beside the other bad variables, echoing no password', () => {
    const emptyPath = failureOf({ DATABASE_URL: 'sqlite:', PORT: 'abc' });
    expect(emptyPath).toMatch(/DATABASE_URL: "sqlite:" needs a path/);
    expect(emptyPath).toContain('PORT');
    for (const url of ['mongodb://user:s3cret@db/market', 'mongodb+srv://user:s3cret@cluster/market']) {
      const mongo = failureOf({ DATABASE_URL: url, PORT: 'abc' });
      expect(mongo).toMatch(/DATABASE_URL: mongodb(\+srv)?:\/\/… is not supported yet/);
      expect(mongo).toContain('PORT');
      expect(mongo).not.toContain('s3cret');
    }
    for (const url of ['sqlite::memory:', 'sqlite:data/x.db', 'postgres://u:p@db/m', 'postgresql://db/m']) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it('is documented in .env.example, every variable, and the example itself is valid', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const documented = [...example.matchAll(/^#? ?([A-Z_]+)=(.*)$/gm)];
    expect(documented.map((match) => match[1]).sort()).toEqual([...CONFIG_VARIABLES].sort());
    const active = Object.fromEntries(
      documented.filter((m) => !m[0].startsWith('#')).map((m) => [m[1]!, m[2]!]),
    );
    expect(loadConfig(active)).toEqual(loadConfig({}));
  });

  describe('read with a .env file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    const saved = { ...process.env };
    afterEach(() => {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    });

    it('lets the environment win over .env, except a blank variable, which leaves .env its value', () => {
      const file = join(dir, '.env');
      writeFileSync(file, 'PORT=6000\nTRACK_TOP=7\nLOG_LEVEL=debug\nPGPASSWORD=s3cret\n');
      process.env.PORT = ''; // as a compose file's PORT=${PORT} leaves it
      process.env.TRACK_TOP = '9';
      delete process.env.LOG_LEVEL;
      delete process.env.PGPASSWORD;
      expect(loadConfigFromProcess(file)).toMatchObject({ port: 6000, trackTop: 9, logLevel: 'debug' });
      // What libraries read from the environment themselves is there too.
      expect(process.env.PGPASSWORD).toBe('s3cret');
      expect(process.env.TRACK_TOP).toBe('9');
      rmSync(dir, { recursive: true, force: true });
    });
  });
});
