/**
 * A throwaway PostgreSQL server for tests: Debian's binaries (`/usr/lib/postgresql/<version>/bin`),
 * a fresh cluster in a temporary directory, TCP on a free port of 127.0.0.1 only, trust
 * authentication, no fsync unless asked for. It can be shut down and started again on the same port and data (the
 * database down, then back), or frozen (a server that stops answering). PostgreSQL refuses to run as root, so when the tests do (CI), the
 * cluster belongs to the `postgres` user (or `nobody`) and its processes run as that user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './free-port.js';

const DEBIAN_ROOT = '/usr/lib/postgresql';
const START_TIMEOUT_MS = 20_000;
const SUPERUSER = 'postgres';

export interface PostgresServer {
  readonly port: number;
  /** The URL of `database` on this server. */
  url(database: string): string;
  /** Creates a new, empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Shuts the server down (its data stays) until `start()`: its clients' connections are closed. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /**
   * Stops every process of the server (SIGSTOP) until `thaw()`: connections stay open and nothing
   * answers, as a server that hangs or a network partition without resets.
   */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** The process ids whose parent is `pid`, read from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // Field 4 of stat, after the command in parentheses (which may hold spaces).
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** Sends `signal` to the server's postmaster and every backend and worker it started. */
function signalServer(server: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (server?.pid === undefined) throw new Error('the postgres server is not running');
  for (const pid of [server.pid, ...childrenOf(server.pid)]) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      // A backend that ended since the scan: nothing to signal. Every other one still is.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** The bin directory of the newest PostgreSQL installed from Debian's packages. */
export function postgresBinDir(): string {
  const versions = existsSync(DEBIAN_ROOT)
    ? readdirSync(DEBIAN_ROOT)
        .filter((entry) => existsSync(join(DEBIAN_ROOT, entry, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) {
    throw new Error(`no PostgreSQL under ${DEBIAN_ROOT}: install Debian's postgresql package`);
  }
  return join(DEBIAN_ROOT, versions[0], 'bin');
}

/** Who runs the server: the current user, or an unprivileged one when that is root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error('running as root, and neither a postgres nor a nobody user exists to run PostgreSQL');
}

async function accepting(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PostgresServerOptions {
  /**
   * Keep fsync and full-page writes on (commits still do not wait for their flush): durable as
   * SQLite's WAL with synchronous=NORMAL, for benchmarks that compare the two. Tests leave it off.
   */
  readonly fsync?: boolean;
}

export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const user = serverUser();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postgres-test-'));
  const data = join(dir, 'data');
  if (user) chownSync(dir, user.uid, user.gid);
  // Run from the cluster's own directory: PostgreSQL 15 returns to its working directory while it
  // finds its binaries, and the tests' own may be closed to the server's user (a clone under /root).
  const as = { cwd: dir, ...(user ? { uid: user.uid, gid: user.gid } : {}) };
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { ...as, stdio: 'pipe' }, // a failure's error carries initdb's stderr
  );
  const url = (database: string) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`;
  let child: ChildProcess | undefined;
  let databases = 0;

  const start = async (): Promise<void> => {
    const server = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'synchronous_commit=off',
        ...(options.fsync ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off']),
      ],
      { ...as, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = server;
    // The server's log, kept short, says why it failed to start.
    let log = '';
    server.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log = (log + chunk).slice(-2000)));
    const failed = new Promise<never>((_, reject) => {
      server.once('error', (error) => reject(new Error(`postgres: ${error.message}`)));
      server.once('exit', (code) => reject(new Error(`postgres exited with ${code}: ${log}`)));
    });
    failed.catch(() => undefined);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await Promise.race([accepting(url(SUPERUSER)), failed]))) {
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections on ${port}`);
      await sleep(50);
    }
  };

  /** Fast shutdown (SIGINT): open connections are closed at once, not waited for. */
  const shutdown = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGINT');
    await exited;
  };

  await start();
  return {
    port,
    url,
    async createDatabase() {
      const name = `test_${++databases}`;
      const admin = new pg.Client({ connectionString: url(SUPERUSER) });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    shutdown,
    start,
    freeze: () => signalServer(child, 'SIGSTOP'),
    thaw: () => signalServer(child, 'SIGCONT'),
    async stop() {
      await shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
