/** Runs a command-line entry point as `npm run …` would, with pipes (so not a TTY). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

type OnSpawn = (kill: (signal: NodeJS.Signals) => void) => void;

function run(
  command: string,
  argv: readonly string[],
  env: Record<string, string>,
  onSpawn?: OnSpawn,
  group = false,
  cwd = REPO_ROOT,
) {
  return new Promise<CliRun>((resolve, reject) => {
    const child = spawn(command, argv, {
      cwd,
      // Blank counts as unset in config.ts, so a developer's SYMBOLS cannot leak into the run.
      env: { ...process.env, SYMBOLS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: group,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    onSpawn?.((signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (!group) {
        child.kill(signal);
        return;
      }
      // In its own process group, a signal goes to the whole group, as a terminal sends Ctrl-C.
      // The group may have gone since the check above: a signal late for an ended run is no error.
      try {
        process.kill(-child.pid!, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    });
  });
}

export function runCli(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  onSpawn?: OnSpawn,
): Promise<CliRun> {
  return run(process.execPath, ['--import', 'tsx', script, ...args], env, onSpawn);
}

/**
 * `npm --prefix PROJECT run SCRIPT -- ARGS`, typed in `cwd`, in a process group of its own
 * whose signals go to the whole group (npm, and the command it runs), as a terminal sends Ctrl-C.
 */
export function runNpmScript(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  onSpawn?: OnSpawn,
  cwd = REPO_ROOT,
): Promise<CliRun> {
  return run(
    'npm',
    ['--prefix', REPO_ROOT, 'run', '--silent', script, '--', ...args],
    env,
    onSpawn,
    true,
    cwd,
  );
}

/**
 * Runs the command on a terminal of its own (util-linux's `script` gives it a pseudo-terminal), as a
 * person does, so it draws progress bars; `stdout` is all the terminal showed, escapes included.
 */
export function runInTerminal(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<CliRun> {
  const quote = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, '--import', 'tsx', script, ...args].map(quote).join(' ');
  return run('script', ['--quiet', '--return', '--command', command, '/dev/null'], env);
}

export function runImportCli(args: readonly string[], databaseUrl: string): Promise<CliRun> {
  return runCli('src/cli/import.ts', args, { DATABASE_URL: databaseUrl });
}
