/** The commands' last error line: one line for what the machine around them reports, a stack for a bug. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeFatal, SIGNAL_ECHO_MS } from './run-cli.js';

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('describeFatal', () => {
  it('says in one line what the system, SQLite or a PostgreSQL connection reports', () => {
    expect(describeFatal(coded('file is not a database', 'SQLITE_NOTADB'))).toBe(
      'file is not a database (SQLITE_NOTADB)',
    );
    expect(describeFatal(coded('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toMatch(/^connect/);
    expect(describeFatal(coded('password authentication failed', '28P01'))).not.toMatch(/\n\s+at /);
  });

  it("keeps the stack of a bug's error, even with a code", () => {
    for (const code of ['ERR_INVALID_ARG_TYPE', 'SQLITE_ERROR', '42601']) {
      expect(describeFatal(coded('a bug', code)), code).toMatch(/\n\s+at /);
    }
    expect(describeFatal(new TypeError('x is undefined'))).toMatch(/\n\s+at /);
  });
});

/** Runs a script that listens for interruption, then sends itself SIGINT twice, `gapMs` apart. */
function interruptedTwice(
  gapMs: number,
): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  const script = `
    import { listenForInterruption } from './src/cli/run-cli.ts';
    const interruption = listenForInterruption();
    process.kill(process.pid, 'SIGINT');
    setTimeout(() => process.kill(process.pid, 'SIGINT'), ${gapMs});
    setTimeout(() => console.log(interruption.by(), interruption.signal.aborted), ${gapMs} + 200);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout }));
  });
}

describe('listenForInterruption', () => {
  it('takes a second signal within SIGNAL_ECHO_MS as the echo of the first (npm passes Ctrl-C on) and lives on', async () => {
    expect(await interruptedTwice(SIGNAL_ECHO_MS / 10)).toEqual({
      code: 0,
      signal: null,
      stdout: 'SIGINT true\n',
    });
  });

  it('ends the process at once on a signal after SIGNAL_ECHO_MS, as a second Ctrl-C meant to', async () => {
    expect(await interruptedTwice(SIGNAL_ECHO_MS + 100)).toEqual({
      code: null,
      signal: 'SIGINT',
      stdout: '',
    });
  });
});
