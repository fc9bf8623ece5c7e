/**
 * `npm run demo` (SPEC section 7): the service against the built-in simulated exchange, so
 * everything can be tried without reaching Binance. The exchange listens on a free port; the
 * service uses its own configuration, with the Binance URLs pointed at the simulator and the store
 * at DEMO_DATABASE_URL (default `sqlite:data/demo.db`), never DATABASE_URL, and no REDIS_URL: the
 * simulator's candles, stored closed and so final, and its quotes must not mix into real ones.
 */
import { createSimulatedExchange } from './binance/simulator/index.js';
import type { Config } from './config.js';
import { createLogger } from './logger.js';
import { exitOnFatal, readConfigOrExit, stopOnSignals } from './process.js';
import { startService } from './service.js';

async function demo(): Promise<void> {
  const base = readConfigOrExit();
  const exchange = await createSimulatedExchange();
  const config: Config = {
    ...base,
    databaseUrl: base.demoDatabaseUrl,
    // In-process cache and bus: on a real REDIS_URL the demo would join that cluster's lease, bus
    // and cache, its simulated quotes reaching real clients.
    redisUrl: undefined,
    binanceWsUrl: exchange.wsUrl,
    binanceRestUrl: exchange.restUrl,
  };
  const logger = createLogger(config.logLevel);
  logger.info({ restUrl: exchange.restUrl, wsUrl: exchange.wsUrl }, 'simulated exchange listening');
  const service = await startService(config, logger);
  stopOnSignals({ ...service, stop: () => service.stop().then(() => exchange.close()) }, logger);
}

demo().catch(exitOnFatal);
