/**
 * The only reader of process.env (SPEC section 3). One schema; an invalid value stops the service
 * at start with one message naming every bad variable. The result is typed and frozen.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import proxyAddr from '@fastify/proxy-addr';
import { parse as parsePostgresUrl } from 'pg-connection-string';
import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './auth/accounts.js';
import { parseDuration } from './domain/duration.js';
import { DAY_MS } from './domain/intervals.js';
import { SECOND_MS } from './domain/price.js';
import { isValidTimeZone } from './domain/session-calendar.js';
import { isSymbolName } from './domain/symbol.js';
import { MAX_HISTORY_SAMPLES } from './realtime/history-cache.js';

const DEFAULT_INTERVAL_HOURS = '1,5,9,13,17,21';
export const DEFAULT_DATABASE_URL = 'sqlite:data/market.db';
export const DEFAULT_DEMO_DATABASE_URL = 'sqlite:data/demo.db';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The longest duration any variable takes, in days: its ms stay an exact integer (below 2^53). */
const MAX_DURATION_DAYS = 100_000_000;
const MAX_DURATION_MS = MAX_DURATION_DAYS * DAY_MS;

/** A duration in ms; above `max.ms` it is refused with `max.text` as the bound. */
const duration = (fallback: string, max?: { ms: number; text: string }) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `a duration like 90s, 15m, 23h or 7d, got "${text}"` });
        return z.NEVER;
      }
      if (ms > MAX_DURATION_MS) {
        ctx.addIssue({ code: 'custom', message: `at most ${MAX_DURATION_DAYS}d, got "${text}"` });
        return z.NEVER;
      }
      if (max && ms > max.ms) {
        ctx.addIssue({ code: 'custom', message: `at most ${max.text}, got "${text}"` });
        return z.NEVER;
      }
      return ms;
    });

/** A whole number in decimal digits: `Number` alone would also take "0x1F", "1e3" or "12.0". */
const DECIMAL_DIGITS = /^\d+$/;

const integer = (fallback: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(DECIMAL_DIGITS, 'must be a whole number in decimal digits')
    .default(String(fallback))
    .transform(Number)
    .pipe(z.number().min(min).max(max));

/** How a `DATABASE_URL` for SQLite begins; the rest is the file's path (or `:memory:`). */
export const SQLITE_PREFIX = 'sqlite:';
const POSTGRES_SCHEMES = ['postgres://', 'postgresql://'] as const;
/** In SPEC section 3, but no adapter is written for them yet. */
const NOT_YET_SUPPORTED_SCHEMES = ['mongodb://', 'mongodb+srv://'] as const;

/**
 * Why DATABASE_URL names no store the service can open, or undefined when it does (checked here,
 * so that the start message names it beside every other bad variable; `openStore` asks again).
 * Only the scheme is echoed: the rest of a server URL may hold a password.
 */
export function databaseUrlProblem(url: string): string | undefined {
  if (url.startsWith(SQLITE_PREFIX)) {
    return url === SQLITE_PREFIX
      ? '"sqlite:" needs a path, e.g. sqlite:data/market.db or sqlite::memory:'
      : undefined;
  }
  if (POSTGRES_SCHEMES.some((scheme) => url.startsWith(scheme))) {
    // Read as node-postgres will read it, so a bad port or host fails here, named, not at connect.
    try {
      parsePostgresUrl(url);
      return undefined;
    } catch {
      return 'is not a URL PostgreSQL can read (check its host, port and percent-encoding)';
    }
  }
  const scheme = NOT_YET_SUPPORTED_SCHEMES.find((prefix) => url.startsWith(prefix));
  if (scheme) {
    return `${scheme}… is not supported yet; use sqlite:<path>, sqlite::memory: or postgres://…`;
  }
  return 'must start with sqlite: or postgres:// (mongodb:// is not supported yet)';
}

/** A store's URL: SQLite or PostgreSQL (`databaseUrlProblem`). */
const databaseUrl = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .superRefine((url, ctx) => {
      const problem = databaseUrlProblem(url);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    });

/** A URL with one of `schemes` that parses as a URL (and names a host, when `needsHost`). */
const urlWithScheme = (schemes: readonly string[], { needsHost }: { needsHost: boolean }) =>
  z
    .string()
    .refine((text) => schemes.some((scheme) => text.startsWith(scheme)), {
      message: `must start with ${schemes.join(' or ')}`,
      abort: true,
    })
    // Not echoed: a Redis URL may hold a password.
    .refine((text) => URL.canParse(text) && (!needsHost || new URL(text).hostname !== ''), {
      message: needsHost ? 'is not a URL with a host' : 'is not a URL',
    });

const list = (text: string): string[] =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** A comma list with at least one item: one of separators only (`,`) is a mistake, not "unset". */
const nonEmptyList = (what: string) =>
  z.string().transform((text, ctx) => {
    const items = list(text);
    if (items.length === 0) {
      ctx.addIssue({ code: 'custom', message: `lists no ${what}, got "${text}"` });
      return z.NEVER;
    }
    return items;
  });

/** Fastify's proxy list as `@fastify/proxy-addr` compiles it (addresses, CIDRs, `loopback`…). */
function proxyListProblem(items: readonly string[]): string | undefined {
  try {
    proxyAddr.compile([...items]);
    return undefined;
  } catch (error) {
    return `true, a number of proxies, or a comma list of addresses or CIDRs: ${(error as Error).message}`;
  }
}

const envSchema = z.object({
  PORT: integer(5000, 0, 65_535),
  HOST: z
    .string()
    .trim()
    .regex(/^\S+$/, 'must be a host name or an address, such as 0.0.0.0 or ::')
    .default('0.0.0.0'),
  DATABASE_URL: databaseUrl(DEFAULT_DATABASE_URL),
  // `npm run demo`'s store, never DATABASE_URL: simulated candles, closed and so final, must not
  // land in a real database that `.env` names.
  DEMO_DATABASE_URL: databaseUrl(DEFAULT_DEMO_DATABASE_URL),
  // ioredis takes `redis://` alone as localhost:6379.
  REDIS_URL: urlWithScheme(['redis://', 'rediss://'], { needsHost: false }).optional(),
  BINANCE_WS_URL: urlWithScheme(['ws://', 'wss://'], { needsHost: true }).default(
    'wss://stream.binance.com:9443',
  ),
  BINANCE_REST_URL: urlWithScheme(['http://', 'https://'], { needsHost: true }).default(
    'https://api.binance.com',
  ),
  SYMBOLS: nonEmptyList('symbols (leave it unset to track the top TRACK_TOP pairs)')
    .transform((items, ctx) => {
      const symbols = items.map((symbol) => symbol.toUpperCase());
      const bad = symbols.filter((symbol) => !isSymbolName(symbol));
      if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `not symbols: ${bad.join(', ')}` });
      return [...new Set(symbols)];
    })
    .optional(),
  TRACK_TOP: integer(242, 1, 5000),
  INTERVAL_HOURS: z
    .string()
    .default(DEFAULT_INTERVAL_HOURS)
    .transform((text, ctx) => {
      const items = list(text);
      const hours = items.map(Number);
      const bad = items.some((item, i) => !DECIMAL_DIGITS.test(item) || hours[i]! > 23);
      if (items.length === 0 || bad) {
        ctx.addIssue({ code: 'custom', message: `a comma list of hours 0-23, got "${text}"` });
        return z.NEVER;
      }
      return [...new Set(hours)].sort((a, b) => a - b);
    }),
  INTERVAL_TIMEZONE: z
    .string()
    .default('UTC')
    .refine(isValidTimeZone, { message: 'must be an IANA time zone such as UTC or Europe/London' }),
  BACKFILL_LOOKBACK: duration('1d'),
  PRICE_HISTORY_RETENTION: duration('7d'),
  BROADCAST_INTERVAL_MS: integer(1000, 50, 60_000),
  // One `historical_data` carries at most MAX_HISTORY_SAMPLES one-second samples.
  HISTORY_ON_SUBSCRIBE: duration('1h', {
    ms: MAX_HISTORY_SAMPLES * SECOND_MS,
    text: `${MAX_HISTORY_SAMPLES}s (${MAX_HISTORY_SAMPLES} one-second samples)`,
  }),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_EXPIRES_IN: duration('1d'),
  ADMIN_EMAIL: z.email().optional(),
  // The bounds of any password (auth/accounts.ts): a longer one could never log in.
  ADMIN_PASSWORD: z
    .string()
    .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
    .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`)
    .optional(),
  CORS_ORIGINS: nonEmptyList('origins (* allows any)').default(['*']),
  // Whose X-Forwarded-For to believe for the client's IP (the per-IP attempt limits): unset, none;
  // `true`, any; a number, that many proxies in front; else a comma list of proxy addresses or CIDRs.
  TRUST_PROXY: z
    .string()
    .trim()
    .optional()
    .transform((text, ctx): boolean | number | string[] => {
      if (text === undefined || text === 'false') return false;
      if (text === 'true') return true;
      if (DECIMAL_DIGITS.test(text)) return Number(text);
      const items = list(text);
      const problem = items.length === 0 ? 'lists no proxies' : proxyListProblem(items);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      return items;
    }),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

type Env = z.infer<typeof envSchema>;

/** Every variable the service reads (SPEC section 3). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as readonly (keyof Env)[];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  /** `npm run demo`'s store (DEMO_DATABASE_URL), which it uses in place of `databaseUrl`. */
  readonly demoDatabaseUrl: string;
  readonly redisUrl: string | undefined;
  readonly binanceWsUrl: string;
  readonly binanceRestUrl: string;
  readonly symbols: readonly string[] | undefined;
  readonly trackTop: number;
  readonly intervalHours: readonly number[];
  readonly intervalTimeZone: string;
  readonly backfillLookbackMs: number;
  readonly priceHistoryRetentionMs: number;
  readonly broadcastIntervalMs: number;
  readonly historyOnSubscribeMs: number;
  readonly jwtSecret: string | undefined;
  readonly jwtExpiresInMs: number;
  readonly admin: { readonly email: string; readonly password: string } | undefined;
  readonly corsOrigins: readonly string[];
  /** Fastify's `trustProxy` (TRUST_PROXY). */
  readonly trustProxy: boolean | number | readonly string[];
  readonly logLevel: Env['LOG_LEVEL'];
  /** Settings that start the service but probably not as meant, for the log at start. */
  readonly warnings: readonly string[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A variable read as blank (unset, empty or spaces only) is treated as unset, as `.env` files often leave them. */
const isBlank = (value: string | undefined): boolean => (value ?? '').trim() === '';

function withoutBlanks(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => !isBlank(entry[1])),
  );
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(withoutBlanks(env));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    demoDatabaseUrl: e.DEMO_DATABASE_URL,
    redisUrl: e.REDIS_URL,
    binanceWsUrl: e.BINANCE_WS_URL.replace(/\/+$/, ''),
    binanceRestUrl: e.BINANCE_REST_URL.replace(/\/+$/, ''),
    symbols: e.SYMBOLS ? Object.freeze(e.SYMBOLS) : undefined,
    trackTop: e.TRACK_TOP,
    intervalHours: Object.freeze(e.INTERVAL_HOURS),
    intervalTimeZone: e.INTERVAL_TIMEZONE,
    backfillLookbackMs: e.BACKFILL_LOOKBACK,
    priceHistoryRetentionMs: e.PRICE_HISTORY_RETENTION,
    broadcastIntervalMs: e.BROADCAST_INTERVAL_MS,
    historyOnSubscribeMs: e.HISTORY_ON_SUBSCRIBE,
    jwtSecret: e.JWT_SECRET,
    jwtExpiresInMs: e.JWT_EXPIRES_IN,
    admin:
      e.ADMIN_EMAIL && e.ADMIN_PASSWORD
        ? Object.freeze({ email: e.ADMIN_EMAIL, password: e.ADMIN_PASSWORD })
        : undefined,
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    trustProxy: Array.isArray(e.TRUST_PROXY) ? Object.freeze(e.TRUST_PROXY) : e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    warnings: Object.freeze(warningsOf(e)),
  });
}

function warningsOf(e: Env): string[] {
  const warnings: string[] = [];
  // SPEC section 3 ensures an admin only "when both are set"; one alone is most likely a slip.
  if ((e.ADMIN_EMAIL === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    const [set, unset] =
      e.ADMIN_EMAIL === undefined ? ['ADMIN_PASSWORD', 'ADMIN_EMAIL'] : ['ADMIN_EMAIL', 'ADMIN_PASSWORD'];
    warnings.push(`${set} is set without ${unset}: no admin account is ensured`);
  }
  // Retention deletes samples a subscriber's history would read from the store (Redis down, an
  // instance just started): historical_data would then hold less than it says.
  if (e.PRICE_HISTORY_RETENTION < e.HISTORY_ON_SUBSCRIBE) {
    warnings.push(
      `PRICE_HISTORY_RETENTION (${e.PRICE_HISTORY_RETENTION / SECOND_MS} s) is shorter than HISTORY_ON_SUBSCRIBE (${e.HISTORY_ON_SUBSCRIBE / SECOND_MS} s): historical_data read from the store holds only what is retained`,
    );
  }
  return warnings;
}

/**
 * The folder the command `script` was typed in, where its relative paths start: `npm run script`
 * works in the package's folder and names the one it was typed in as INIT_CWD. Read only when npm
 * runs that very script (npm_lifecycle_event): a process started some other way may inherit an
 * outer npm's INIT_CWD, and its paths start at its own working folder.
 */
export const invocationDirectory = (script: string): string =>
  (process.env.npm_lifecycle_event === script ? process.env.INIT_CWD : undefined) ?? process.cwd();

/**
 * Reads `.env` (when present) into process.env, where libraries read their own variables too
 * (`PGPASSWORD`, `NODE_TLS_REJECT_UNAUTHORIZED`…), then parses. A variable set in the environment
 * wins, unless it is blank, which reads as unset there too (so `PORT=` from a compose file leaves
 * `.env`'s PORT; `process.loadEnvFile` would keep the blank one).
 */
export function loadConfigFromProcess(envFile = '.env'): Config {
  if (existsSync(envFile)) {
    for (const [name, value] of Object.entries(parseEnv(readFileSync(envFile, 'utf8')))) {
      if (isBlank(process.env[name])) process.env[name] = value;
    }
  }
  return loadConfig(process.env);
}
