/**
 * Runs the real service (`src/main.ts`, or an npm script such as `npm start`) as a child process
 * and reads its JSON log lines.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServiceProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[];
  readonly stderr: string[];
  /** Base URL once the service listens. */
  readonly url: Promise<string>;
  readonly exit: Promise<number | null>;
}

export interface StartOptions {
  /** Runs this npm script (`npm run <script>`) instead of Node on `src/main.ts`. */
  readonly npmScript?: string;
  /** Starts the child in a process group of its own (so `process.kill(-pid)` reaches all of it). */
  readonly detached?: boolean;
}

export function startService(env: Record<string, string>, options: StartOptions = {}): ServiceProcess {
  const [command, args] = options.npmScript
    ? ['npm', ['run', '--silent', options.npmScript]]
    : [process.execPath, ['--import', 'tsx', 'src/main.ts']];
  // Nothing reaches the real exchange from a test: callers point BINANCE_* at the simulator.
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    detached: options.detached ?? false,
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  let resolveUrl: (url: string) => void = () => undefined;
  const url = new Promise<string>((resolve) => (resolveUrl = resolve));
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match?.[1]) resolveUrl(match[1]);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  // A child that could not start (ENOMEM, EAGAIN) fails the test waiting on it, not the whole run.
  const exit = new Promise<number | null>((resolve, reject) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', reject);
  });
  exit.catch(() => undefined); // rejected for whoever awaits it, and no unhandled rejection otherwise
  return { child, lines, stderr, url, exit };
}
