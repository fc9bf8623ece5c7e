/** What every command-line entry point shares: exit codes and the last-resort error line. */
import { ConfigError } from '../config.js';
import { AppError } from '../domain/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/**
 * Codes of failures in the machine around the command, not in it: the system's (`ENOENT`,
 * `ECONNREFUSED`, `EACCES`), SQLite's other than its generic SQL error (`SQLITE_NOTADB`,
 * `SQLITE_CANTOPEN`, `SQLITE_BUSY`), and PostgreSQL's connection (08), authorization (28) and
 * missing-database (3D) classes. Node's own `ERR_*` codes, bad SQL and the like are bugs.
 */
const OPERATIONAL_CODE = /^(E[A-Z]+|SQLITE_(?!ERROR$)[A-Z_]+|08[0-9A-Z]{3}|28[0-9A-Z]{3}|3D[0-9A-Z]{3})$/;

/**
 * Expected failures read as one line: bad config, unsupported store, exchange errors, and what the
 * machine around the command reports with an OPERATIONAL_CODE (a file that is no SQLite database,
 * a refused connection, a wrong password); anything else, a bug, keeps its stack.
 */
export function describeFatal(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error instanceof ConfigError || error instanceof AppError) return error.message;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && OPERATIONAL_CODE.test(code)) return `${error.message} (${code})`;
  return error.stack ?? error.message;
}

/** Exit codes after an interrupting signal: 128 + its number, as shells report it. */
export const EXIT_ON_SIGNAL: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 };

export interface Interruption {
  /** Aborted by the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** The signal that came, if one did. */
  by(): 'SIGINT' | 'SIGTERM' | undefined;
  /** Stops listening (a signal after it meets Node's default handler). */
  release(): void;
}

/**
 * How long after the first signal another one is taken as the same Ctrl-C, in ms: a terminal
 * signals the whole process group, and npm passes the signal it got on to the command as well.
 */
export const SIGNAL_ECHO_MS = 1000;

/**
 * Listens for SIGINT and SIGTERM while a command works, to finish cleanly: the first aborts
 * `signal`. Another within SIGNAL_ECHO_MS is that one's echo and is ignored; a later one is meant,
 * and ends the process at once with Node's default handling (the shell sees 128 + its number).
 */
export function listenForInterruption(): Interruption {
  const controller = new AbortController();
  let by: 'SIGINT' | 'SIGTERM' | undefined;
  let firstAt = 0;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (by === undefined) {
      by = signal;
      firstAt = performance.now();
      controller.abort();
    } else if (performance.now() - firstAt >= SIGNAL_ECHO_MS) {
      release();
      process.kill(process.pid, signal);
    }
  };
  const release = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { signal: controller.signal, by: () => by, release };
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
