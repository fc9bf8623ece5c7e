import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { MIGRATIONS } from '../src/adapters/sqlite/migrations.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('sqlite in memory', () => new SqliteStore({ path: ':memory:' }));

/** Processes opening the same new file at once, rounds of it, and the ms between rounds. */
const RACE_PROCESSES = 4;
const RACE_ROUNDS = 5;
const RACE_ROUND_MS = 300;
/** When the processes open their first file, in ms from their spawn: after tsx has loaded. */
const RACE_PROCESS_START_MS = 4000;
/** Writes queued behind another connection's lock, and how long they may take once it is let go, in ms. */
const QUEUED_WRITES = 200;
const QUEUED_WRITES_DRAIN_MS = 500;
/** Fenced writes in the fence race, against another connection's commits. */
const RACE_WRITES = 3000;

describe('sqlite file store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('applies every migration once and keeps data across a reopen', async () => {
    const path = join(dir, 'nested', 'market.db');
    const first = new SqliteStore({ path });
    expect(first.schemaVersions()).toEqual(MIGRATIONS.map((m) => m.version));
    await first.insertSymbol({
      symbol: 'BTCUSDT',
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      status: 'TRADING',
      isActive: true,
    });
    await first.close();
    const second = new SqliteStore({ path });
    expect(second.schemaVersions()).toEqual(MIGRATIONS.map((m) => m.version));
    expect((await second.getSymbol('BTCUSDT'))?.symbol).toBe('BTCUSDT');
    await second.close();
  });

  it('keeps a fence holder writing while another instance commits to the same file between its reads and writes', async () => {
    const path = join(dir, 'fence-race.db');
    const holder = new SqliteStore({ path });
    const token = await holder.advanceFence('ingest');
    // Another instance commits to the same file over and over. A fenced write reads the fence and
    // then writes: if its transaction took the write lock only at the write, a commit in between
    // would leave its read snapshot stale, and it would fail with SQLITE_BUSY for no reason of its
    // own (or, had that commit taken the fence, with SQLITE_BUSY instead of FencedError).
    const rival = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const Database = require(workerData.driver);
      const db = new Database(workerData.path);
      db.pragma('busy_timeout = 5000');
      db.pragma('synchronous = NORMAL');
      const advance = db.prepare(
        "INSERT INTO settings (key, value) VALUES ('rival', '1') " +
          "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
      );
      const pause = new Int32Array(new SharedArrayBuffer(4));
      advance.run();
      parentPort.postMessage('ready');
      // A commit every ~0.1 ms: often between a holder's read and write, never starving it.
      for (;;) {
        advance.run();
        Atomics.wait(pause, 0, 0, 0.1);
      }
      `,
      { eval: true, workerData: { path, driver: createRequire(import.meta.url).resolve('better-sqlite3') } },
    );
    const failures = new Map<string, number>();
    try {
      await new Promise((resolve, reject) => {
        rival.once('message', resolve);
        rival.once('error', reject);
      });
      for (let attempt = 0; attempt < RACE_WRITES; attempt++) {
        await holder
          .insertPriceSamples([{ symbol: 'BTCUSDT', price: '1', timestamp: attempt * 1000 }], {
            name: 'ingest',
            token,
          })
          .catch((error: unknown) => {
            const kind = String((error as { code?: string }).code ?? error);
            failures.set(kind, (failures.get(kind) ?? 0) + 1);
          });
      }
    } finally {
      await rival.terminate();
      await holder.close();
    }
    expect(Object.fromEntries(failures)).toEqual({});
    const reopened = new SqliteStore({ path });
    const stored = await reopened.listPriceSamples({
      symbol: 'BTCUSDT',
      limit: RACE_WRITES + 1,
      order: 'asc',
    });
    await reopened.close();
    expect(stored).toHaveLength(RACE_WRITES);
  });

  it("waits out another connection's write lock with the process free meanwhile, then writes in the order called", async () => {
    const path = join(dir, 'locked.db');
    const store = new SqliteStore({ path });
    // Another instance (an import, a backfill) in the middle of a long write.
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const writes = [
      store.putSetting('k', 'first'),
      store.insertPriceSamples([{ symbol: 'BTCUSDT', price: '1', timestamp: 1_000 }]),
      store.putSetting('k', 'second'),
    ];
    let settled = false;
    void Promise.allSettled(writes).then(() => (settled = true));
    // Timers run while the lock is held: SQLite's busy wait no longer holds the process (it held
    // it for the whole 5 s busy timeout, so this connection could never let go in time).
    await sleep(300);
    expect(settled).toBe(false);
    other.exec('COMMIT');
    other.close();
    await Promise.all(writes);
    expect(await store.getSetting('k')).toBe('second');
    expect(await store.listPriceSamples({ symbol: 'BTCUSDT', limit: 2, order: 'asc' })).toHaveLength(1);
    await store.close();
  });

  it('runs the writes queued behind a lock at once when it is let go, not one retry pause apart', async () => {
    const path = join(dir, 'drained.db');
    const store = new SqliteStore({ path });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const writes = Array.from({ length: QUEUED_WRITES }, (_, i) => store.putSetting(`k${i}`, String(i)));
    await sleep(50);
    other.exec('COMMIT');
    other.close();
    let done = 0;
    // Counted, not awaited: a write left over when the check fails is rejected by close().
    for (const write of writes) void write.then(() => done++).catch(() => undefined);
    // One retry pause (20 ms) for the write at the head; the rest follow in the same turn. One pause
    // each would take QUEUED_WRITES × 20 ms = 4 s.
    await sleep(QUEUED_WRITES_DRAIN_MS);
    expect(done).toBe(QUEUED_WRITES);
    await store.close();
  });

  it('lets instances open one new file at the same moment: each applies or sees every migration', async () => {
    // Processes, not workers: each opens the file as a separate instance would, released together.
    const files = Array.from({ length: RACE_ROUNDS }, (_, round) => join(dir, `opened-together-${round}.db`));
    const startAt = Date.now() + RACE_PROCESS_START_MS;
    const script = `
      import { SqliteStore } from ${JSON.stringify(new URL('../src/adapters/sqlite/store.ts', import.meta.url).href)};
      const files = ${JSON.stringify(files)};
      for (const [round, path] of files.entries()) {
        while (Date.now() < ${startAt} + round * ${RACE_ROUND_MS});
        try {
          const store = new SqliteStore({ path });
          console.log(JSON.stringify(store.schemaVersions()));
          await store.close();
        } catch (error) {
          console.log(JSON.stringify(String(error)));
        }
      }`;
    const outputs = await Promise.all(
      Array.from({ length: RACE_PROCESSES }, async () => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        await once(child, 'exit');
        return out
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as unknown);
      }),
    );
    const versions = MIGRATIONS.map((migration) => migration.version);
    for (const output of outputs) expect(output).toEqual(files.map(() => versions));
  }, 60_000);
});
