/** Runs a command-line entry point as `npm run …` would, with pipes (so not a TTY). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  onSpawn?: (kill: (signal: NodeJS.Signals) => void) => void,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      // Blank counts as unset in config.ts, so a developer's SYMBOLS cannot leak into the run.
      env: { ...process.env, SYMBOLS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    onSpawn?.((signal) => child.kill(signal));
  });
}

export function runImportCli(args: readonly string[], databaseUrl: string): Promise<CliRun> {
  return runCli('src/cli/import.ts', args, { DATABASE_URL: databaseUrl });
}
