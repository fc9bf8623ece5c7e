/**
 * JSON logs (pino). Secrets never reach a log line: the Authorization header, cookies, passwords,
 * hashes and tokens are redacted wherever they appear in a logged object.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'password',
  'passwordHash',
  'accessToken',
  'token',
  'jwtSecret',
  '*.password',
  '*.passwordHash',
  '*.accessToken',
  '*.token',
  '*.jwtSecret',
  '*.databaseUrl',
  '*.demoDatabaseUrl',
  '*.redisUrl',
  '*.admin',
  // ioredis errors carry their command; its arguments may hold a password or a whole payload.
  '*.command.args',
];

export function loggerOptions(level: string): LoggerOptions {
  return { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

export type { Logger };
