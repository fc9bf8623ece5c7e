/** What every command-line entry point shares: exit codes and the last-resort error line. */
import { ConfigError } from '../config.js';
import { AppError } from '../domain/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Expected failures (bad config, unsupported store, exchange errors) read as one line; anything else keeps its stack. */
export function describeFatal(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error instanceof ConfigError || error instanceof AppError) return error.message;
  return error.stack ?? error.message;
}

/** Runs `main` with the command's arguments and sets the exit code from its result or failure. */
export async function runCli(main: (argv: string[]) => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`error: ${describeFatal(error)}\n`);
    process.exitCode = EXIT_FAILED;
  }
}
