/**
 * Import throughput: rows/s of `importFiles` into a fresh SQLite file, against a baseline that only
 * reads and splits the same file's lines in the same process; and the synthetic month into a fresh
 * PostgreSQL database on a throwaway server, against the SQLite import of the same file.
 */
import { createReadStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PostgresStore } from '../src/adapters/postgres/store.js';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { importFiles } from '../src/cli/import-files.js';
import { MINUTE_MS } from '../src/domain/intervals.js';
import type { Store } from '../src/ports/store.js';
import { startPostgresServer, type PostgresServer } from '../test/helpers/postgres-server.js';
import { fmt, line } from './stats.js';

const RUNS = 5;
const ALPACA_FILE = fileURLToPath(
  new URL('../../shared/fixtures/klines/alpaca-bot/BTCUSDT-1m-2024-09-21.csv', import.meta.url),
);

/** A month of 1m rows in data.binance.vision's format (44,640 rows), from a seeded random walk. */
function writeSyntheticMonth(dir: string): string {
  const path = join(dir, 'SYNUSDT-1m-2024-01.csv');
  const start = Date.parse('2024-01-01T00:00:00Z');
  let price = 4200000;
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
  const rows: string[] = [];
  for (let m = 0; m < 31 * 1440; m++) {
    const open = price;
    price += Math.round((next() - 0.5) * 400);
    const high = Math.max(open, price) + 7;
    const low = Math.min(open, price) - 5;
    const p = (cents: number) => (cents / 100).toFixed(8);
    const openTime = start + m * MINUTE_MS;
    rows.push(
      `${openTime},${p(open)},${p(high)},${p(low)},${p(price)},12.34567000,${openTime + MINUTE_MS - 1},` +
        `518518.12345678,${100 + (m % 50)},6.10000000,256000.00000000,0`,
    );
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
  return path;
}

async function baselineRowsPerSecond(path: string): Promise<number> {
  const started = performance.now();
  let rows = 0;
  let fields = 0;
  for await (const text of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    fields += text.split(',').length;
    rows++;
  }
  if (fields === 0) throw new Error('empty file');
  return rows / ((performance.now() - started) / 1000);
}

/** Imports `path` into a fresh store: a SQLite file in `dir`, or a new database on `postgres`. */
async function importRowsPerSecond(
  path: string,
  dir: string,
  run: number,
  postgres?: PostgresServer,
): Promise<number> {
  const store: Store = postgres
    ? await PostgresStore.open({ url: await postgres.createDatabase() })
    : new SqliteStore({ path: join(dir, `import-${run}.db`) });
  try {
    const started = performance.now();
    const [result] = await importFiles([path], { store });
    const seconds = (performance.now() - started) / 1000;
    if (!result || result.error) throw new Error(`import failed: ${result?.error?.message ?? 'no result'}`);
    return result.rows / seconds;
  } finally {
    await store.close();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function benchImport(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-import-'));
  try {
    const files: [string, string][] = [['synthetic month, 44,640 rows', writeSyntheticMonth(dir)]];
    if (existsSync(ALPACA_FILE))
      files.unshift(['alpaca-bot BTCUSDT-1m-2024-09-21.csv, 1,440 rows', ALPACA_FILE]);
    else line('alpaca-bot 1m file', 'skipped: ../shared/fixtures is absent');
    let run = 0;
    let sqliteMonth = 0;
    for (const [label, path] of files) {
      const baseline: number[] = [];
      const imported: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        baseline.push(await baselineRowsPerSecond(path));
        imported.push(await importRowsPerSecond(path, dir, run++));
      }
      const rate = median(imported);
      const base = median(baseline);
      sqliteMonth = rate; // the synthetic month comes last
      line(
        `import ${label}: rows/s`,
        `${fmt(rate, 0)} (${fmt(rate / base, 3)}x of read+split baseline ${fmt(base, 0)} rows/s)`,
      );
    }
    // One symbol's month in one upsert: its rollups are rebuilt from rows the planner's statistics
    // do not know yet (adapters/postgres/store.ts).
    const server = await startPostgresServer({ fsync: true });
    try {
      const month = files.at(-1)![1];
      const imported: number[] = [];
      for (let i = 0; i < RUNS; i++) imported.push(await importRowsPerSecond(month, dir, run++, server));
      const rate = median(imported);
      line(
        'import synthetic month into PostgreSQL: rows/s',
        `${fmt(rate, 0)} (${fmt(rate / sqliteMonth, 3)}x of the SQLite import above)`,
      );
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
