/** Process-level helpers shared by the entry points (main.ts, demo.ts): config, signals, exit. */
import { ConfigError, loadConfigFromProcess, type Config } from './config.js';
import type { Logger } from './logger.js';
import type { Service } from './service.js';

/** How long a graceful stop may take before the process exits anyway, in ms. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

export function readConfigOrExit(): Config {
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

/**
 * Stops the service on the first SIGTERM or SIGINT, ignoring any that follow, and exits 0 (1 when
 * the stop fails or hangs). A rejection nobody handled or an exception nobody caught is a bug
 * whose leftovers are unknown: it is logged and the service stops the same way, flushing what is
 * buffered, then exits 1 (Node's default would end the process at once, losing the buffered writes).
 */
export function stopOnSignals(service: Service, logger: Logger): void {
  let stopping = false;
  /** 1 once anything went wrong, also a bug surfacing while a signal's stop runs. */
  let exitCode: 0 | 1 = 0;
  const stop = (reason: string, code: 0 | 1): void => {
    if (code === 1) exitCode = 1;
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping');
    setTimeout(() => {
      logger.error('graceful stop timed out');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    service.stop().then(
      () => {
        logger.info('stopped');
        process.exit(exitCode);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: a repeated signal (npm and a terminal both pass Ctrl-C on) must meet the
  // guard above, not Node's default action, which would end the process before the flush.
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('unhandledRejection', (reason: unknown) => {
    logger.fatal({ err: reason }, 'unhandled rejection; stopping');
    stop('unhandled rejection', 1);
  });
  process.on('uncaughtException', (error: Error) => {
    logger.fatal({ err: error }, 'uncaught exception; stopping');
    stop('uncaught exception', 1);
  });
}

export function exitOnFatal(error: unknown): never {
  process.stderr.write(`fatal: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
