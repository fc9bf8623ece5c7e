/**
 * The Socket.IO fan-out under load. C clients (1,000 and 5,000; 10,000 when 5,000 ran comfortably)
 * subscribe to 10 symbols each, spread evenly over 242 symbols that all change every second.
 * Measured: updates delivered per second (sum over clients), latency from the frame's arrival at
 * the service to receipt by the client, server CPU and RSS. The server under test is the real app
 * (buildApp with the gateway, SQLite store, a `!miniTicker@arr` frame of all 242 symbols each second
 * through decodeFrame → ingest → live state → broadcaster); the baseline is a bare socket.io server
 * emitting the same `price_update` payloads to the same rooms, in the same run. The floor, also in
 * the same run, writes the same bytes over raw TCP with one write per client per second: the
 * latency this machine gives any server, against which the app's is read. The clients are light
 * (realtime-clients.ts) so the load generator takes as little of the shared cores as it can.
 *
 * Each server runs alone in a child process (realtime-server.ts), so `process.cpuUsage()` deltas
 * and RSS are the server's alone; the clients run in CLIENT_PROCESSES other children
 * (realtime-clients.ts). Everything shares the machine's cores, so client load shows in latency;
 * the clients' CPU is printed next to it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { generatedSymbolNames } from '../src/binance/simulator/symbols.js';
import { fmt, line, summarize } from './stats.js';

// ---- IPC messages between this process and its children --------------------------------------

export type ParentToServer = { type: 'begin' } | { type: 'end' } | { type: 'stop' };
export type ServerToParent =
  | { type: 'ready'; url: string }
  | { type: 'begun' }
  | { type: 'report'; cpuMs: number; systemCpuMs: number; wallMs: number; maxRss: number };
export type ParentToClients =
  | {
      type: 'connect';
      url: string;
      /** Global index of this process's first client: symbols are spread over all clients. */
      first: number;
      count: number;
      perClient: number;
      symbols: readonly string[];
      /** Latency samples this process keeps at most. */
      reservoir: number;
      /** Open each session on HTTP long-polling and upgrade it, as socket.io-client does by default. */
      upgrade: boolean;
    }
  | { type: 'begin' }
  | { type: 'end' }
  | { type: 'close' };
export type ClientsToParent =
  | { type: 'ready' }
  | { type: 'connected'; connected: number; failed: number; firstError?: string; ms: number }
  | { type: 'begun' }
  | {
      type: 'report';
      received: number;
      samples: number[];
      disconnects: number;
      cpuMs: number;
      wallMs: number;
      rss: number;
    }
  | { type: 'closed' };

// ---- settings ---------------------------------------------------------------------------------

const SYMBOL_COUNT = 242;
const SUBSCRIPTIONS_PER_CLIENT = 10;
/**
 * `BENCH_REALTIME_PROFILE=<dir>` writes each server's V8 CPU profile there (`--cpu-prof`) and runs
 * the target client count only: how the figures below were traced to the kernel's send path.
 */
const PROFILE_DIR = process.env.BENCH_REALTIME_PROFILE;
/** `BENCH_REALTIME_CLIENTS=<n>` runs that client count only (every mode), for quick comparisons. */
const ONLY_CLIENTS = Number(process.env.BENCH_REALTIME_CLIENTS) || undefined;
const CLIENT_COUNTS = ONLY_CLIENTS ? [ONLY_CLIENTS] : PROFILE_DIR ? [5000] : [1000, 5000];
const STRETCH_CLIENTS = 10_000;
const CLIENT_PROCESSES = 2;
/**
 * The runs at each client count. `bare` is the baseline. `bare-volatile` shows why the gateway does
 * not emit `volatile`: a volatile packet is dropped while the socket's previous write is in flight,
 * so of a client's burst of 10 updates mostly one arrives. `floor` is what this machine allows at
 * all: the kernel's loopback sends and the clients' reads, with nothing of a server's own on top.
 */
const RUNS: Record<'main' | 'stretch', readonly Mode[]> = {
  // app-upgraded last: a failure of its polling handshakes leaves the runs the targets need.
  main: ['app', 'bare', 'bare-volatile', 'floor', 'app-upgraded'],
  // Bare socket.io cannot connect 10,000 clients within CONNECT_TIMEOUT_MS on 2 cores (its
  // handshakes starve behind its own fan-out): the app is compared with the floor there.
  stretch: ['app', 'floor'],
};
const WARMUP_MS = 3000;
const MEASURE_MS = 10_000;
/** Latency samples kept over all client processes (a uniform reservoir of every receipt). */
const RESERVOIR = 200_000;
const READY_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 60_000;
const REPLY_TIMEOUT_MS = 15_000;
/** 10,000 clients are tried only if 5,000 ran within these (and the run so far is short enough). */
const STRETCH_MAX_RSS = 512 * 1024 * 1024;
const STRETCH_MAX_CONNECT_MS = 30_000;
const STRETCH_MAX_ELAPSED_MS = 180_000;

const TARGET_CLIENTS = 5000;
const TARGET_P99_MS = 100;
const TARGET_CPU_RATIO = 2;
const TARGET_RSS = 1024 * 1024 * 1024;

const SERVER_SCRIPT = fileURLToPath(new URL('./realtime-server.ts', import.meta.url));
export const CLIENTS_SCRIPT = fileURLToPath(new URL('./realtime-clients.ts', import.meta.url));
const MiB = 1024 * 1024;
const verdict = (met: boolean, target: string) => (met ? `meets ${target}` : `MISSES ${target}`);
const count = (value: number) => value.toLocaleString('en-US');

// ---- children ---------------------------------------------------------------------------------

export function spawn(script: string, args: readonly string[]): ChildProcess {
  return fork(script, args, {
    execArgv: [
      '--import',
      'tsx',
      ...(PROFILE_DIR && script === SERVER_SCRIPT ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    ],
    // Their stdout would mix with the figures; errors still show.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

/** Sends `message` (if any) and resolves with the child's next message of type `type`. */
function request<M extends { type: string }, T extends M['type']>(
  child: ChildProcess,
  type: T,
  message: object | undefined,
  timeoutMs: number,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no '${type}' from child ${child.pid} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (reply: M) => {
      if (reply.type !== type) return;
      cleanup();
      resolve(reply as Extract<M, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${code ?? signal}) while waiting for '${type}'`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (message) child.send(message);
  });
}

const askServer = <T extends ServerToParent['type']>(
  child: ChildProcess,
  type: T,
  message?: ParentToServer,
  timeoutMs = REPLY_TIMEOUT_MS,
) => request<ServerToParent, T>(child, type, message, timeoutMs);

export const askClients = <T extends ClientsToParent['type']>(
  child: ChildProcess,
  type: T,
  message?: ParentToClients,
  timeoutMs = REPLY_TIMEOUT_MS,
) => request<ClientsToParent, T>(child, type, message, timeoutMs);

/**
 * Asks the child to stop (`stop`, or else by closing its IPC channel, on which it exits), then kills
 * it if it has not exited within `graceMs`.
 */
export async function finish(child: ChildProcess, stop: object | undefined, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) {
    if (stop) child.send(stop);
    else child.disconnect();
  }
  const done = await Promise.race([exited.then(() => true), sleep(graceMs, false)]);
  if (!done) {
    child.kill('SIGKILL');
    await exited;
  }
}

// ---- one measured run -------------------------------------------------------------------------

/**
 * The app; a bare socket.io server emitting plainly (the baseline) or `volatile`; the floor: the
 * same bytes written with no WebSocket library and no Socket.IO, one write per client per second.
 */
/** `app-upgraded`: the app, its clients opening on polling and upgrading (socket.io-client's default). */
type Mode = 'app' | 'app-upgraded' | 'bare' | 'bare-volatile' | 'floor';

interface RunResult {
  readonly mode: Mode;
  readonly clients: number;
  readonly connected: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly connectMs: number;
  readonly deliveredPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly serverCpuMsPerSecond: number;
  /** The part of the server's CPU time spent in the kernel (mostly its sends on loopback). */
  readonly serverSystemCpuShare: number;
  readonly serverCpuUsPerUpdate: number;
  readonly serverMaxRss: number;
  readonly clientCpuMsPerSecond: number;
  readonly clientRss: number;
  readonly disconnects: number;
}

async function measureRun(
  mode: Mode,
  clients: number,
  symbols: readonly string[],
  clientProcs: readonly ChildProcess[],
  dir: string,
): Promise<RunResult> {
  const runDir = join(dir, `${mode}-${clients}`);
  mkdirSync(runDir, { recursive: true });
  const upgrade = mode === 'app-upgraded';
  const server = spawn(SERVER_SCRIPT, [upgrade ? 'app' : mode, runDir, symbols.join(',')]);
  try {
    const { url } = await askServer(server, 'ready', undefined, READY_TIMEOUT_MS);
    const share = Math.ceil(clients / clientProcs.length);
    const connected = await Promise.all(
      clientProcs.map((child, i) => {
        const first = i * share;
        return askClients(
          child,
          'connected',
          {
            type: 'connect',
            url,
            first,
            count: Math.max(0, Math.min(share, clients - first)),
            perClient: SUBSCRIPTIONS_PER_CLIENT,
            symbols,
            reservoir: Math.ceil(RESERVOIR / clientProcs.length),
            upgrade,
          },
          CONNECT_TIMEOUT_MS,
        );
      }),
    );
    await sleep(WARMUP_MS);
    await Promise.all([
      askServer(server, 'begun', { type: 'begin' }),
      ...clientProcs.map((child) => askClients(child, 'begun', { type: 'begin' })),
    ]);
    await sleep(MEASURE_MS);
    const [serverReport, ...clientReports] = await Promise.all([
      askServer(server, 'report', { type: 'end' }),
      ...clientProcs.map((child) => askClients(child, 'report', { type: 'end' })),
    ]);
    await Promise.all(clientProcs.map((child) => askClients(child, 'closed', { type: 'close' })));

    const seconds = serverReport.wallMs / 1000;
    const received = clientReports.reduce((sum, report) => sum + report.received, 0);
    // Each process's reservoir is uniform over its own receipts; taking the same fraction of every
    // process's receipts (as large as the smallest reservoir allows) keeps the merge uniform.
    const fraction = Math.min(
      1,
      ...clientReports.map((report) => (report.received > 0 ? report.samples.length / report.received : 1)),
    );
    const samples = clientReports.flatMap((report) =>
      report.samples.slice(0, Math.floor(fraction * report.received)),
    );
    const latency = summarize(samples);
    const clientCpuMs = clientReports.reduce((sum, report) => sum + report.cpuMs, 0);
    return {
      mode,
      clients,
      connected: connected.reduce((sum, reply) => sum + reply.connected, 0),
      failed: connected.reduce((sum, reply) => sum + reply.failed, 0),
      firstError: connected.find((reply) => reply.firstError)?.firstError,
      connectMs: Math.max(...connected.map((reply) => reply.ms)),
      deliveredPerSecond: received / seconds,
      p50: latency.p50,
      p99: latency.p99,
      max: latency.max,
      serverCpuMsPerSecond: serverReport.cpuMs / seconds,
      serverSystemCpuShare: serverReport.cpuMs > 0 ? serverReport.systemCpuMs / serverReport.cpuMs : 0,
      serverCpuUsPerUpdate: received > 0 ? (serverReport.cpuMs * 1000) / received : Number.NaN,
      serverMaxRss: serverReport.maxRss,
      clientCpuMsPerSecond: clientCpuMs / (clientReports[0]!.wallMs / 1000),
      clientRss: clientReports.reduce((sum, report) => sum + report.rss, 0),
      disconnects: clientReports.reduce((sum, report) => sum + report.disconnects, 0),
    };
  } finally {
    // Clients still connected (a failed run) are closed before the next run; best effort.
    await Promise.all(
      clientProcs.map((child) => askClients(child, 'closed', { type: 'close' }).catch(() => undefined)),
    );
    await finish(server, { type: 'stop' } satisfies ParentToServer);
  }
}

// ---- printing ---------------------------------------------------------------------------------

const CORES = availableParallelism();

/**
 * Every update of a second leaves the service in one burst after the exchange's frame, and nearly
 * all of the server's and the clients' work in that second (encoding, sends, the kernel's loopback,
 * reads) stands between the frame and the burst's last receipt. On a machine whose cores they share,
 * that work over the cores is about the least time the burst can take, however the server spreads
 * it over threads or processes. Work off the burst's path (a garbage collection after it, the
 * store's writes) makes this an over-estimate by that much; it is read off the run, not assumed.
 */
const burstFloorMs = (result: RunResult): number =>
  (result.serverCpuMsPerSecond + result.clientCpuMsPerSecond) / CORES;

function printRun(result: RunResult): void {
  const name = result.mode;
  const expected = result.connected * SUBSCRIPTIONS_PER_CLIENT;
  const setup =
    `${count(result.connected)} of ${count(result.clients)} in ${fmt(result.connectMs / 1000, 1)} s` +
    (result.failed > 0 ? ` (${count(result.failed)} failed: ${result.firstError ?? '?'})` : '');
  line(`  ${name}: clients connected + subscribed`, setup);
  line(
    `  ${name}: updates delivered/s (all clients)`,
    `${fmt(result.deliveredPerSecond, 0)} (${fmt((100 * result.deliveredPerSecond) / expected, 1)}% ` +
      `of ${count(expected)}/s subscribed)` +
      (result.disconnects > 0 ? `, ${count(result.disconnects)} disconnects` : ''),
  );
  line(
    `  ${name}: arrival to receipt, ms`,
    `p50 ${fmt(result.p50, 0)}, p99 ${fmt(result.p99, 0)}, max ${fmt(result.max, 0)}`,
  );
  line(
    `  ${name}: server CPU ms/s (kernel share), µs per delivered update`,
    `${fmt(result.serverCpuMsPerSecond, 0)} (${fmt(100 * result.serverSystemCpuShare, 0)}%), ` +
      fmt(result.serverCpuUsPerUpdate, 1),
  );
  line(
    `  ${name}: a second's CPU, server + clients, over ${CORES} cores, ms`,
    `${fmt(burstFloorMs(result), 0)} (about the least a second's burst can take)`,
  );
  line(`  ${name}: server RSS max, MiB`, fmt(result.serverMaxRss / MiB, 0));
  line(
    `  ${name}: clients' CPU ms/s, RSS MiB (${CLIENT_PROCESSES} procs)`,
    `${fmt(result.clientCpuMsPerSecond, 0)}, ${fmt(result.clientRss / MiB, 0)}`,
  );
}

function printComparison(results: Partial<Record<Mode, RunResult>>): void {
  const { app, bare, floor } = results;
  const upgraded = results['app-upgraded'];
  if (!app) return;
  const targeted = app.clients === TARGET_CLIENTS;
  if (upgraded) {
    line(
      '  app-upgraded / app: CPU per update, p99',
      `${fmt(upgraded.serverCpuUsPerUpdate / app.serverCpuUsPerUpdate, 2)}x, ${fmt(upgraded.p99 / app.p99, 2)}x`,
    );
  }
  if (bare) {
    const cpuRatio = app.serverCpuUsPerUpdate / bare.serverCpuUsPerUpdate;
    line(
      '  app / bare: CPU per update, p99, updates/s',
      `${fmt(cpuRatio, 2)}x` +
        (targeted ? ` (${verdict(cpuRatio <= TARGET_CPU_RATIO, `<= ${TARGET_CPU_RATIO}x`)})` : '') +
        `, ${fmt(app.p99 / bare.p99, 2)}x, ${fmt(app.deliveredPerSecond / bare.deliveredPerSecond, 2)}x`,
    );
  }
  if (floor) {
    line(
      '  app / floor: CPU per update, p50, p99, updates/s',
      `${fmt(app.serverCpuUsPerUpdate / floor.serverCpuUsPerUpdate, 2)}x, ` +
        `${fmt(app.p50 / floor.p50, 2)}x, ${fmt(app.p99 / floor.p99, 2)}x, ` +
        fmt(app.deliveredPerSecond / floor.deliveredPerSecond, 2) +
        'x',
    );
  }
  if (targeted) {
    line(
      `  app at ${count(TARGET_CLIENTS)} clients: targets`,
      `${verdict(app.p99 < TARGET_P99_MS, `p99 < ${TARGET_P99_MS} ms`)}` +
        (app.p99 < TARGET_P99_MS
          ? ', '
          : ` (a second's CPU over ${CORES} cores: app ${fmt(burstFloorMs(app), 0)} ms` +
            (floor ? `, floor ${fmt(burstFloorMs(floor), 0)} ms` : '') +
            '), ') +
        `${verdict(app.serverMaxRss < TARGET_RSS, 'RSS < 1 GiB')}` +
        (app.connected < app.clients ? ` (only ${count(app.connected)} clients connected)` : ''),
    );
  }
}

// ---- entry ------------------------------------------------------------------------------------

export async function benchRealtime(): Promise<void> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'bench-realtime-'));
  const symbols = generatedSymbolNames(SYMBOL_COUNT);
  const clientProcs = Array.from({ length: CLIENT_PROCESSES }, () => spawn(CLIENTS_SCRIPT, []));
  try {
    await Promise.all(clientProcs.map((child) => askClients(child, 'ready', undefined, READY_TIMEOUT_MS)));
    line(
      `${SYMBOL_COUNT} symbols change each second, ${SUBSCRIPTIONS_PER_CLIENT} subscriptions per client`,
      `warm-up ${WARMUP_MS / 1000} s, measured ${MEASURE_MS / 1000} s per run`,
    );
    line(
      `machine: ${CORES} cores shared by server and clients`,
      `server, clients in ${CLIENT_PROCESSES} processes`,
    );
    line('app-upgraded: the app, clients open on polling then upgrade', "socket.io-client's default");
    line('bare: socket.io alone, same rooms and payloads', 'the baseline');
    line('bare-volatile: the same, emitted volatile', 'drops most of a burst');
    line('floor: same bytes, raw TCP, one write per client', "the machine's limit");
    const counts = [...CLIENT_COUNTS];
    for (let i = 0; i < counts.length; i++) {
      const clients = counts[i]!;
      process.stdout.write(`-- ${count(clients)} clients --\n`);
      const results: Partial<Record<Mode, RunResult>> = {};
      let mode: Mode = 'app';
      try {
        for (mode of RUNS[clients === STRETCH_CLIENTS ? 'stretch' : 'main']) {
          const result = await measureRun(mode, clients, symbols, clientProcs, dir);
          results[mode] = result;
          printRun(result);
        }
      } catch (error) {
        line(`  not measured (${mode} run failed)`, String(error));
      }
      printComparison(results);
      const { app, bare } = results;
      if (clients === TARGET_CLIENTS) {
        const elapsed = performance.now() - started;
        const reasons = [
          !app || !bare ? 'the 5,000 run failed' : undefined,
          app && app.failed > 0 ? 'clients failed to connect at 5,000' : undefined,
          app && app.serverMaxRss > STRETCH_MAX_RSS
            ? `app RSS above ${STRETCH_MAX_RSS / MiB} MiB`
            : undefined,
          app && app.connectMs > STRETCH_MAX_CONNECT_MS ? 'connecting 5,000 was slow' : undefined,
          elapsed > STRETCH_MAX_ELAPSED_MS
            ? `the run has taken ${fmt(elapsed / 1000, 0)} s already`
            : undefined,
        ].filter((reason) => reason !== undefined);
        if (ONLY_CLIENTS) continue;
        if (reasons.length === 0) counts.push(STRETCH_CLIENTS);
        else line(`-- ${count(STRETCH_CLIENTS)} clients: not run`, reasons.join('; '));
      }
    }
    line('total bench time, s', fmt((performance.now() - started) / 1000, 0));
  } finally {
    await Promise.all(clientProcs.map((child) => finish(child, undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}
