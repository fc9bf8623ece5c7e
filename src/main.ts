/**
 * `npm start`: reads the configuration, starts the service, and stops it gracefully on
 * SIGTERM/SIGINT (SPEC section 9): stop accepting, flush every buffered write, close, exit 0.
 */
import { createLogger } from './logger.js';
import { exitOnFatal, readConfigOrExit, stopOnSignals } from './process.js';
import { startService } from './service.js';

const config = readConfigOrExit();
const logger = createLogger(config.logLevel);
startService(config, logger).then((service) => stopOnSignals(service, logger), exitOnFatal);
