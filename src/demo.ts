/**
 * `npm run demo` (SPEC section 7): the service against the built-in simulated exchange, so
 * everything can be tried without reaching Binance. The exchange listens on a free port; the
 * service uses its own configuration, with the Binance URLs pointed
 * at the simulator and, unless DATABASE_URL is set, a separate demo database.
 */
import { createSimulatedExchange } from './binance/simulator/index.js';
import { DEFAULT_DATABASE_URL, type Config } from './config.js';
import { createLogger } from './logger.js';
import { exitOnFatal, readConfigOrExit, stopOnSignals } from './process.js';
import { startService } from './service.js';

/** Demo data stays apart from a real database. */
const DEMO_DATABASE_URL = 'sqlite:data/demo.db';

async function demo(): Promise<void> {
  const base = readConfigOrExit();
  const exchange = await createSimulatedExchange();
  const config: Config = {
    ...base,
    databaseUrl: base.databaseUrl === DEFAULT_DATABASE_URL ? DEMO_DATABASE_URL : base.databaseUrl,
    binanceWsUrl: exchange.wsUrl,
    binanceRestUrl: exchange.restUrl,
  };
  const logger = createLogger(config.logLevel);
  logger.info({ restUrl: exchange.restUrl, wsUrl: exchange.wsUrl }, 'simulated exchange listening');
  const service = await startService(config, logger);
  stopOnSignals({ ...service, stop: () => service.stop().then(() => exchange.close()) }, logger);
}

demo().catch(exitOnFatal);
