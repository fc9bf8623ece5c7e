/**
 * A throwaway `redis-server` for tests: a free port on 127.0.0.1, nothing kept on disk, stopped
 * with the test. It can be killed and restarted on the same port (Redis down) and frozen with
 * SIGSTOP (Redis answering slowly, or not at all) to test the service's behaviour under faults.
 * Also the service's own kind of connection to it, once ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { createRedisConnection } from '../../src/adapters/redis/connection.js';
import { freePort } from './free-port.js';

export const REDIS_SERVER_BINARY = 'redis-server';
const START_TIMEOUT_MS = 10_000;

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGKILL: the server is gone (its data with it) until `start()`. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing is answered until `resume()`. */
  freeze(): void;
  resume(): void;
  stop(): Promise<void>;
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.end('PING\r\n');
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `args`: more redis-server options, e.g. `['--requirepass', secret]`. */
export async function startRedisServer(args: readonly string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redis-test-'));
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const server = spawn(
      REDIS_SERVER_BINARY,
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        ...['--dir', dir, ...args],
      ],
      { stdio: 'ignore' },
    );
    child = server;
    const failed = new Promise<never>((_, reject) => {
      server.once('error', (error) => reject(new Error(`${REDIS_SERVER_BINARY}: ${error.message}`)));
      server.once('exit', (code) => reject(new Error(`${REDIS_SERVER_BINARY} exited with ${code}`)));
    });
    failed.catch(() => undefined);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await Promise.race([accepting(port), failed]))) {
      if (Date.now() > deadline) throw new Error(`${REDIS_SERVER_BINARY} did not listen on ${port}`);
      await sleep(20);
    }
  };

  const kill = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGCONT');
    running.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    freeze: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A command connection as the service makes it (./connection.ts: no offline queue, a command
 * timeout; logs silenced), resolved once it is ready: without an offline queue, commands sent
 * before then would fail at once. The caller disconnects it.
 */
export async function readyRedisConnection(url: string, name: string): Promise<Redis> {
  const redis = createRedisConnection(url, { name, logger: pino({ level: 'silent' }) });
  await new Promise((resolve) => redis.once('ready', resolve));
  return redis;
}
