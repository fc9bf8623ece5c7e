import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Runs `stopOnSignals` in a process of its own, over a service whose stop writes `flushed` (as the
 * real one flushes its buffered writes), then runs `fault`: resolves with the exit code and log.
 */
async function runWithFault(
  fault: string,
  flushed: string,
  duringStop = '',
): Promise<{ code: number | null; log: string }> {
  const script = `
    import { writeFileSync } from 'node:fs';
    import { setTimeout as sleep } from 'node:timers/promises';
    import { createLogger } from ${JSON.stringify(new URL('./logger.ts', import.meta.url).href)};
    import { stopOnSignals } from ${JSON.stringify(new URL('./process.ts', import.meta.url).href)};
    const service = {
      stop: async () => {
        ${duringStop}
        await sleep(50);
        writeFileSync(${JSON.stringify(flushed)}, 'flushed');
      },
    };
    stopOnSignals(service, createLogger('info'));
    setInterval(() => undefined, 1000); // a service keeps the process alive
    ${fault}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, log };
}

describe('the process around the service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'process-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['an unhandled rejection', `Promise.reject(new Error('boom'));`, 'unhandled rejection; stopping'],
    [
      'an uncaught exception',
      `setTimeout(() => { throw new Error('boom'); }, 10);`,
      'uncaught exception; stopping',
    ],
  ])(
    'stops the service through its graceful stop, flushing, and exits 1 on %s',
    async (_name, fault, message) => {
      const flushed = join(dir, `${message.split(' ')[0]}.flushed`);
      const { code, log } = await runWithFault(fault, flushed);
      expect(code).toBe(1);
      expect(existsSync(flushed)).toBe(true);
      const lines = log
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { msg: string; err?: { message: string } });
      expect(lines.find((line) => line.msg === message)?.err?.message).toBe('boom');
      expect(lines.map((line) => line.msg)).toContain('stopped');
    },
  );

  it('exits 1 when a bug surfaces while a signal is stopping the service, after the stop', async () => {
    const flushed = join(dir, 'during-stop.flushed');
    const { code, log } = await runWithFault(
      `process.kill(process.pid, 'SIGTERM');`,
      flushed,
      `Promise.reject(new Error('boom during stop'));`,
    );
    expect(code).toBe(1);
    expect(existsSync(flushed)).toBe(true);
    expect(log).toContain('boom during stop');
  });
});
