/**
 * Scale-out over Redis (issue 6): two real service processes (src/main.ts) on one throwaway
 * redis-server and one SQLite file, against the simulated exchange with 242 symbols (each second
 * the ones that traded send a ticker, as Binance's `!miniTicker@arr` does). Instance A holds the lease and ingests; the clients sit on instance B, so every update
 * they get crossed Redis (Socket.IO's Redis adapter). Measured for C clients on B (0, then more):
 * Redis commands per ingested second and per ticker the exchange sent (INFO
 * total_commands_processed, which must not grow with C), and latency from the exchange's event time
 * to receipt by a client on B.
 */
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { WINDOW_BUCKET_MS } from '../src/adapters/redis/cache.js';
import { createSimulatedExchange, miniTickerChanges } from '../src/binance/simulator/index.js';
import { generatedSymbolNames } from '../src/binance/simulator/symbols.js';
import { freePort } from '../test/helpers/free-port.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { waitForIngestion } from '../test/helpers/service-status.js';
import { askClients, CLIENTS_SCRIPT, finish, spawn } from './realtime.js';
import { commandCalls, commandsProcessed, fmt, line, perCommand, summarize } from './stats.js';

const SYMBOL_COUNT = 242;
const SUBSCRIPTIONS_PER_CLIENT = 10;
const CLIENT_COUNTS = [0, 500, 2000];

const WARMUP_MS = 3000;
/**
 * One whole window bucket period per client count: each 2-minute bucket rollover makes every
 * symbol's first write to its new bucket set that bucket's expiry, and the cache's sweeps run
 * every minute, so a shorter window would count that burst in one client count and not another.
 */
const MEASURE_MS = WINDOW_BUCKET_MS;
const READY_LIMIT_MS = 60_000;
const CONNECT_LIMIT_MS = 60_000;
const RESERVOIR = 100_000;
const ROOT = fileURLToPath(new URL('../', import.meta.url));

interface Instance {
  readonly url: string;
  readonly child: ChildProcess;
}

function startInstance(env: Record<string, string>, port: number): Instance {
  const child = spawnProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

export async function benchScale(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-scale-'));
  const redisServer = await startRedisServer();
  const redis = new Redis(redisServer.url);
  const symbols = generatedSymbolNames(SYMBOL_COUNT);
  const exchange = await createSimulatedExchange({ symbols, includeUniverseExtras: false, seed: 21 });
  const env = {
    DATABASE_URL: `sqlite:${join(dir, 'market.db')}`,
    REDIS_URL: redisServer.url,
    BINANCE_WS_URL: exchange.wsUrl,
    BINANCE_REST_URL: exchange.restUrl,
    SYMBOLS: symbols.join(','),
    BACKFILL_LOOKBACK: '5m',
    JWT_SECRET: 'bench-scale-secret-0123456789abcdef',
  };
  const instances: Instance[] = [];
  const clients = spawn(CLIENTS_SCRIPT, []);
  try {
    const a = startInstance(env, await freePort());
    instances.push(a);
    await waitForIngestion(a.url, 'ingesting', READY_LIMIT_MS);
    const b = startInstance(env, await freePort());
    instances.push(b);
    await waitForIngestion(b.url, 'standby', READY_LIMIT_MS);
    await askClients(clients, 'ready', undefined, READY_LIMIT_MS);
    line(
      `${SYMBOL_COUNT} simulated symbols (some trade each second); A ingests`,
      `clients on B, ${SUBSCRIPTIONS_PER_CLIENT} subscriptions each`,
    );
    let baseline: number | undefined;
    for (const count of CLIENT_COUNTS) {
      if (count > 0) {
        const connected = await askClients(
          clients,
          'connected',
          {
            type: 'connect',
            url: b.url,
            first: 0,
            count,
            perClient: SUBSCRIPTIONS_PER_CLIENT,
            symbols,
            reservoir: RESERVOIR,
            upgrade: false,
          },
          CONNECT_LIMIT_MS,
        );
        if (connected.failed > 0) line(`  ${count} clients: connect failures`, String(connected.failed));
      }
      await sleep(WARMUP_MS);
      await askClients(clients, 'begun', { type: 'begin' });
      const callsBefore = await commandCalls(redis);
      const before = await commandsProcessed(redis);
      const startedAt = performance.now();
      const marketFrom = exchange.clock.now();
      await sleep(MEASURE_MS);
      const after = await commandsProcessed(redis);
      const callsAfter = await commandCalls(redis);
      const marketTo = exchange.clock.now();
      const seconds = (performance.now() - startedAt) / 1000;
      const report = await askClients(clients, 'report', { type: 'end' });
      // This bench's own two INFO calls are among them.
      const commands = after - before - 2;
      const perSecond = commands / seconds;
      // The market's activity varies from one window to the next; per ticker sent it does not.
      const tickers = miniTickerChanges(exchange.market, symbols, marketFrom, marketTo).length;
      const perTicker = commands / Math.max(1, tickers);
      baseline ??= perTicker;
      line(
        `  ${count.toLocaleString('en-US')} clients on B: Redis commands per second`,
        `${fmt(perSecond, 0)} (${fmt(tickers / seconds, 1)} tickers/s from the exchange)`,
      );
      line(
        `  ${count.toLocaleString('en-US')} clients on B: Redis commands per ticker`,
        `${fmt(perTicker, 2)} (${fmt(perTicker / baseline, 2)}x of 0 clients)`,
      );
      line('    of which, per second', perCommand(callsBefore, callsAfter, seconds));
      if (count > 0) {
        const latency = summarize(report.samples);
        line(
          `  ${count.toLocaleString('en-US')} clients on B: exchange event → client on B, ms`,
          `p50 ${fmt(latency.p50, 0)}, p99 ${fmt(latency.p99, 0)} (${fmt(report.received / seconds, 0)} updates/s)`,
        );
      }
      await askClients(clients, 'closed', { type: 'close' });
    }
  } finally {
    await finish(clients, undefined);
    for (const instance of instances) {
      instance.child.kill('SIGTERM');
      await new Promise((resolve) => instance.child.once('exit', resolve));
    }
    await exchange.close();
    redis.disconnect();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
