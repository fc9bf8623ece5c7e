/**
 * Composition root: config → adapters → services → HTTP; listens, and stops gracefully on
 * SIGTERM/SIGINT (SPEC section 9): stop accepting, finish in-flight requests, close the store, exit 0.
 */
import { createStore } from './adapters/create-store.js';
import { ConfigError, loadConfigFromProcess, type Config } from './config.js';
import { createSessionCalendar } from './domain/session-calendar.js';
import { buildApp } from './http/build-app.js';
import { createLogger } from './logger.js';
import { createCandleReader } from './market/candles.js';
import { createPriceReader } from './market/prices.js';
import { startRetention } from './market/retention.js';
import { VERSION } from './version.js';

/** How long a graceful stop may take before the process exits anyway, in ms. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

function readConfig(): Config {
  try {
    return loadConfigFromProcess();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  const now = Date.now;
  const store = createStore(config.databaseUrl);
  const calendar = createSessionCalendar({ hours: config.intervalHours, timeZone: config.intervalTimeZone });
  const retention = startRetention({ store, retentionMs: config.priceHistoryRetentionMs, now, logger });
  const app = await buildApp({
    logger,
    store,
    candles: createCandleReader({ store, calendar, now }),
    prices: createPriceReader({ store, now }),
    version: VERSION,
    now,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    setTimeout(() => {
      logger.error('graceful stop timed out');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    retention.stop();
    app.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  await app.listen({ port: config.port, host: config.host });
  // The whole config is logged for operators; secrets in it are redacted by the logger (logger.ts).
  logger.info({ version: VERSION, store: store.driver, config }, 'service started');
}

main().catch((error: unknown) => {
  process.stderr.write(`fatal: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
