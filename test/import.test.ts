import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';

import { openStore } from '../src/adapters/create-store.js';
import { SqliteStore } from '../src/adapters/sqlite/store.js';
import { withOverrides } from '../src/adapters/with-overrides.js';
import { importFiles, type ImportProgress } from '../src/cli/import-files.js';
import { SIGNAL_ECHO_MS } from '../src/cli/run-cli.js';
import type { Candle } from '../src/domain/candle.js';
import { UnavailableError } from '../src/domain/errors.js';
import type { Store } from '../src/ports/store.js';
import {
  fixturePath,
  HAS_SHARED_FIXTURES,
  readKlineCsv,
  SKIPPED_WITHOUT_FIXTURES,
} from './helpers/fixtures.js';
import { klineFile, klineRow } from './helpers/kline-rows.js';
import { REPO_ROOT, runCli, runImportCli, runInTerminal, runNpmScript } from './helpers/run-cli.js';
import { createZip } from './helpers/zip.js';

const DAY_START = '2024-09-21T00:00:00Z';
const MINUTES_PER_DAY = 1440;
const at = (iso: string): number => Date.parse(iso);

const tmp = mkdtempSync(join(tmpdir(), 'kline-import-'));
let fileCount = 0;
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `content` as `name` in a fresh folder, so tests can reuse real file names. */
function write(name: string, content: string | Buffer): string {
  const dir = join(tmp, String(++fileCount));
  mkdirSync(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** A day of rows with line `lineNumber` (1-based) replaced by `line`. */
function dayWithLine(lineNumber: number, line: string): string {
  const lines = klineFile(DAY_START, MINUTES_PER_DAY).split('\n');
  lines[lineNumber - 1] = line;
  return lines.join('\n');
}

let store: SqliteStore;
beforeEach(() => {
  store = new SqliteStore({ path: ':memory:' });
});
afterEach(async () => {
  await store.close();
});

function stored(symbol = 'BTCUSDT', resolution: '1m' | '1h' = '1m', from: Store = store): Promise<Candle[]> {
  return from.listCandles({ symbol, resolution, from: 0, to: Number.MAX_SAFE_INTEGER });
}

describe('importFiles', () => {
  it('imports a csv with ms timestamps and registers the symbol without tracking it live', async () => {
    const file = write('BTCUSDT-1m-2024-09-21.csv', klineFile(DAY_START, MINUTES_PER_DAY));
    const [result] = await importFiles([file], { store });
    expect(result).toEqual({
      file,
      symbol: 'BTCUSDT',
      rows: MINUTES_PER_DAY,
      firstOpenTime: at(DAY_START),
      lastOpenTime: at('2024-09-21T23:59:00Z'),
    });
    const candles = await stored();
    expect(candles).toHaveLength(MINUTES_PER_DAY);
    expect(candles[0]).toMatchObject({ open: '100', high: '101', low: '99', close: '100.5', closed: true });
    expect(await stored('BTCUSDT', '1h')).toHaveLength(24);
    expect(await store.getSymbol('BTCUSDT')).toMatchObject({
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      status: 'TRADING',
      isActive: false,
    });
  });

  it('stores a csv with µs timestamps exactly as the same rows in ms', async () => {
    const micro = write('BTCUSDT-1m-2025-01-01.csv', klineFile('2025-01-01T00:00:00Z', 60, { micro: true }));
    const milli = write('BTCUSDT-1m-2025-01-01.csv', klineFile('2025-01-01T00:00:00Z', 60));
    expect((await importFiles([micro], { store }))[0]?.error).toBeUndefined();
    const fromMicro = await stored();
    const other = new SqliteStore({ path: ':memory:' });
    try {
      await importFiles([milli], { store: other });
      expect(await stored('BTCUSDT', '1m', other)).toEqual(fromMicro);
    } finally {
      await other.close();
    }
    expect(fromMicro[0]).toMatchObject({
      openTime: at('2025-01-01T00:00:00Z'),
      closeTime: at('2025-01-01T00:01:00Z') - 1,
    });
  });

  it('imports deflated and stored zips the same as the csv inside them', async () => {
    const csv = klineFile(DAY_START, 120);
    const deflated = write(
      'BTCUSDT-1m-2024-09-21.zip',
      createZip([{ name: 'BTCUSDT-1m-2024-09-21.csv', data: csv }]),
    );
    const storedZip = write(
      'ETHUSDT-1m-2024-09-21.zip',
      createZip([{ name: 'ETHUSDT-1m-2024-09-21.csv', data: csv }], { store: true }),
    );
    const results = await importFiles([deflated, storedZip], { store });
    expect(results.map((result) => [result.rows, result.error])).toEqual([
      [120, undefined],
      [120, undefined],
    ]);
    const eth = await stored('ETHUSDT');
    expect(eth.map(({ symbol: _symbol, ...rest }) => rest)).toEqual(
      (await stored('BTCUSDT')).map(({ symbol: _symbol, ...rest }) => rest),
    );
  });

  it('writes nothing of a file with a bad row in the middle, and names file and line', async () => {
    const bad = dayWithLine(
      720,
      klineRow(at('2024-09-21T11:59:00Z')).replace(',100.00000000,', ',103.00000000,'),
    );
    const file = write('BTCUSDT-1m-2024-09-21.csv', bad);
    const [result] = await importFiles([file], { store });
    expect(result?.error?.message).toBe(`${file}:720: high 101 is below open 103`);
    expect(result?.error?.line).toBe(720);
    expect(result?.rows).toBe(0);
    expect(await stored()).toEqual([]);
    expect(await store.candleSpan('BTCUSDT')).toBeUndefined();
    expect(await store.getSymbol('BTCUSDT')).toBeUndefined();
  });

  it('leaves candles already stored untouched when a later version of the file is bad', async () => {
    const good = write('BTCUSDT-1m-2024-09-21.csv', klineFile(DAY_START, MINUTES_PER_DAY));
    await importFiles([good], { store });
    const before = await stored();
    const bad = write('BTCUSDT-1m-2024-09-21.csv', dayWithLine(MINUTES_PER_DAY, 'garbage'));
    expect((await importFiles([bad], { store }))[0]?.error?.line).toBe(MINUTES_PER_DAY);
    expect(await stored()).toEqual(before);
  });

  it('reports a header row as a bad row on line 1', async () => {
    const header =
      'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore';
    const file = write('BTCUSDT-1m-2024-09-21.csv', `${header}\n${klineFile(DAY_START, 10)}`);
    const [result] = await importFiles([file], { store });
    expect(result?.error?.message).toMatch(new RegExp(`^${escape(file)}:1: header row`));
    expect(await stored()).toEqual([]);
  });

  it('rejects rows out of order, naming the first line that goes backwards', async () => {
    const lines = klineFile(DAY_START, 10).split('\n');
    [lines[4], lines[5]] = [lines[5]!, lines[4]!];
    const [result] = await importFiles([write('BTCUSDT-1m-2024-09-21.csv', lines.join('\n'))], { store });
    expect(result?.error?.message).toMatch(/:6: open time 2024-09-21T00:04Z comes before the previous row's/);
    expect(await stored()).toEqual([]);
  });

  it('refuses a non-1m file without reading it', async () => {
    const [result] = await importFiles(['/nowhere/BTCUSDT-1h-2024-08.csv'], { store });
    expect(result?.error?.message).toMatch(
      /^\/nowhere\/BTCUSDT-1h-2024-08\.csv: only 1m files can be imported/,
    );
    expect(result?.symbol).toBeUndefined();
  });

  it('reports a missing file by name', async () => {
    const missing = join(tmp, 'BTCUSDT-1m-2024-09-21.csv');
    const missingZip = join(tmp, 'BTCUSDT-1m-2024-09-22.zip');
    const results = await importFiles([missing, missingZip], { store });
    expect(results.map((result) => result.error?.message)).toEqual([
      `${missing}: cannot read: no such file`,
      `${missingZip}: cannot read: no such file`,
    ]);
  });

  it('reads a relative path from the folder `npm run import` was typed in, not the project root', async () => {
    const file = write('BTCUSDT-1m-2024-09-21.csv', klineFile(DAY_START, 3));
    const typedIn = tmp; // `npm --prefix` runs the project's script from anywhere
    const database = join(tmp, 'cli', 'relative.db');
    const run = await runNpmScript(
      'import',
      [relative(typedIn, file)],
      { DATABASE_URL: `sqlite:${database}` },
      undefined,
      typedIn,
    );
    expect(run.stdout).toContain(`${file}: 3 rows of BTCUSDT`);
    expect(run.code).toBe(0);
    // Run by other means (here Node itself, in the project) with an outer npm's INIT_CWD inherited:
    // relative paths start at its own working folder.
    const elsewhere = join(tmp, 'elsewhere', 'deeper');
    mkdirSync(elsewhere, { recursive: true });
    const direct = await runCli('src/cli/import.ts', [relative(REPO_ROOT, file)], {
      DATABASE_URL: `sqlite:${database}`,
      INIT_CWD: elsewhere,
      npm_lifecycle_event: 'test',
    });
    expect(direct.stdout).toContain(`${file}: 3 rows of BTCUSDT`);
  });

  it('reports a file that fails as it is read by name and reason, not as a bug', async () => {
    // /proc/self/mem is a regular file whose reads fail (EIO), as a failing disk's would.
    const dir = join(tmp, 'unreadable');
    mkdirSync(dir);
    const failing = join(dir, 'BTCUSDT-1m-2024-09-21.csv');
    symlinkSync('/proc/self/mem', failing);
    const [result] = await importFiles([failing], { store });
    expect(result?.error).toEqual({
      message: `${failing}: cannot read: EIO: i/o error, read`,
      line: undefined,
      unexpected: undefined,
    });
  });

  it('reports a corrupt zip clearly, whether its directory or its data is broken', async () => {
    const notZip = write('BTCUSDT-1m-2024-09-21.zip', 'this is not a zip archive at all');
    const zip = createZip([{ name: 'BTCUSDT-1m-2024-09-21.csv', data: klineFile(DAY_START, 60) }]);
    const dataStart = 30 + 'BTCUSDT-1m-2024-09-21.csv'.length;
    zip.fill(0xff, dataStart, dataStart + 16); // an invalid deflate block type
    const badData = write('BTCUSDT-1m-2024-09-21.zip', zip);
    const results = await importFiles([notZip, badData], { store });
    expect(results[0]?.error?.message).toMatch(new RegExp(`^${escape(notZip)}: not a readable zip archive`));
    expect(results[1]?.error?.message).toMatch(new RegExp(`^${escape(badData)}: corrupt zip archive`));
    expect(results.every((result) => result.error?.unexpected === undefined)).toBe(true);
    expect(await stored()).toEqual([]);
  });

  it('refuses a zip whose csv fails its CRC-32, though every row still parses', async () => {
    const csv = klineFile(DAY_START, 60);
    const zip = createZip([{ name: 'BTCUSDT-1m-2024-09-21.csv', data: csv }], { store: true });
    // The first row's volume changed in the stored (uncompressed) bytes: a flipped bit on disk.
    const volume = 30 + 'BTCUSDT-1m-2024-09-21.csv'.length + csv.split(',', 5).join(',').length + 1;
    zip[volume] = zip[volume] === 0x39 ? 0x38 : zip[volume]! + 1;
    const path = write('BTCUSDT-1m-2024-09-21.zip', zip);
    const [result] = await importFiles([path], { store });
    expect(result?.error?.message).toBe(
      `${path}: corrupt zip archive (BTCUSDT-1m-2024-09-21.csv fails its CRC-32 check)`,
    );
    expect(result?.error?.unexpected).toBeUndefined();
    expect(await stored()).toEqual([]);
  });

  it("refuses a zip whose csv is another file's, as a renamed archive would hold", async () => {
    const csv = klineFile(DAY_START, 3);
    const renamed = write(
      'BTCUSDT-1m-2024-09-21.zip',
      createZip([{ name: 'ETHUSDT-1m-2024-09-21.csv', data: csv }]),
    );
    const inFolder = write(
      'BTCUSDT-1m-2024-09-21.zip',
      createZip([{ name: 'spot/BTCUSDT-1m-2024-09-21.csv', data: csv }]),
    );
    const results = await importFiles([renamed, inFolder], { store });
    expect(results.map((result) => result.error?.message)).toEqual([
      `${renamed}: holds ETHUSDT-1m-2024-09-21.csv, not BTCUSDT-1m-2024-09-21.csv: another file renamed?`,
      undefined,
    ]);
    expect(await stored('ETHUSDT')).toEqual([]);
    expect(await stored()).toHaveLength(3);
  });

  it('expects exactly one csv inside a zip', async () => {
    const csv = klineFile(DAY_START, 3);
    const two = write(
      'BTCUSDT-1m-2024-09-21.zip',
      createZip([
        { name: 'a.csv', data: csv },
        { name: 'b.csv', data: csv },
      ]),
    );
    const none = write('BTCUSDT-1m-2024-09-21.zip', createZip([{ name: 'readme.txt', data: 'hi' }]));
    const results = await importFiles([two, none], { store });
    expect(results.map((result) => result.error?.message)).toEqual([
      `${two}: expected exactly one .csv inside the zip, found 2`,
      `${none}: expected exactly one .csv inside the zip, found 0`,
    ]);
  });

  it('records the gap a file written past the stored series would hide from the restart repair', async () => {
    const day = (date: string) =>
      write(`BTCUSDT-1m-${date}.csv`, klineFile(`${date}T00:00:00Z`, MINUTES_PER_DAY));
    await importFiles([day('2024-09-19'), day('2024-09-20')], { store });
    // The series simply continues: nothing to repair.
    expect(await store.listRepairGaps()).toEqual([]);
    // A day missing before the next file: the restart's repair, which starts at the last stored
    // candle, would skip it; the gap from just before the old end is recorded for it instead.
    const [past] = await importFiles([day('2024-09-22')], { store });
    expect(await store.listRepairGaps()).toEqual([{ symbol: 'BTCUSDT', since: at('2024-09-20T23:58:00Z') }]);
    expect(past?.repairFrom).toBe(at('2024-09-20T23:58:00Z')); // said on its line
  });

  it('records a gap when a file continues a series whose last candle was stored still forming', async () => {
    // 09-20 up to 23:58 from a file, then 23:59 as the live link stores a minute still forming.
    await importFiles([write('BTCUSDT-1m-2024-09-20.csv', klineFile('2024-09-20T00:00:00Z', 1439))], {
      store,
    });
    const before = (await stored()).at(-1)!;
    const forming = { ...before, openTime: before.openTime + 60_000, closeTime: before.closeTime + 60_000 };
    await store.upsertCandles([{ ...forming, closed: false, eventTime: forming.openTime + 30_000 }]);
    await importFiles([write('BTCUSDT-1m-2024-09-21.csv', klineFile(DAY_START, MINUTES_PER_DAY))], { store });
    // Its close is owed: the repair starts a minute before it, as a restart's would have.
    expect(await store.listRepairGaps()).toEqual([{ symbol: 'BTCUSDT', since: at('2024-09-20T23:58:00Z') }]);
  });

  it('is idempotent: importing the same file twice leaves the same candles', async () => {
    const file = write('BTCUSDT-1m-2024-09-21.csv', klineFile(DAY_START, MINUTES_PER_DAY));
    const first = await importFiles([file], { store });
    const once = { candles: await stored(), hours: await stored('BTCUSDT', '1h') };
    const second = await importFiles([file, file], { store });
    expect(second).toEqual([first[0], first[0]]);
    expect({ candles: await stored(), hours: await stored('BTCUSDT', '1h') }).toEqual(once);
  });

  it('continues with the next file after a bad one and reports progress for each', async () => {
    const bad = write('BTCUSDT-1m-2024-09-21.csv', dayWithLine(3, ''));
    const good = write('ETHUSDT-1m-2024-09-21.csv', klineFile(DAY_START, MINUTES_PER_DAY));
    const events: ImportProgress[] = [];
    const results = await importFiles([bad, good], { store, onProgress: (event) => events.push(event) });
    expect(results.map((result) => [result.symbol, result.rows, result.error?.line])).toEqual([
      ['BTCUSDT', 0, 3],
      ['ETHUSDT', MINUTES_PER_DAY, undefined],
    ]);
    expect(events[0]).toEqual({ type: 'start', file: bad, symbol: 'BTCUSDT', expectedRows: MINUTES_PER_DAY });
    expect(events.filter((event) => event.type === 'rows').length).toBeGreaterThan(1);
    expect(events.filter((event) => event.type === 'done').map((event) => event.result)).toEqual(results);
  });
});

describe('openStore', () => {
  it('opens sqlite stores, says mongodb is not supported yet and an unreachable PostgreSQL is unreachable, without echoing secrets', async () => {
    const memory = await openStore('sqlite::memory:');
    await memory.ping();
    await memory.close();
    const mongo = openStore('mongodb://user:s3cret@db/market');
    await expect(mongo).rejects.toThrow(/mongodb:\/\/… is not supported yet/);
    await expect(mongo).rejects.not.toThrow(/s3cret/);
    // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    const postgres = openStore('postgres://user:s3cret@127.0.0.1:1/market');
    await expect(postgres).rejects.toThrow(UnavailableError);
    await expect(postgres).rejects.toThrow(/PostgreSQL at DATABASE_URL is unreachable/);
    await expect(postgres).rejects.not.toThrow(/s3cret/);
  });
});

describe('real data.binance.vision files', () => {
  it.skipIf(!HAS_SHARED_FIXTURES)(
    `imports a full BTCUSDT day exactly as the file has it${SKIPPED_WITHOUT_FIXTURES}`,
    async () => {
      const file = fixturePath('klines/alpaca-bot/BTCUSDT-1m-2024-09-21.csv');
      const [result] = await importFiles([file], { store });
      expect(result).toMatchObject({
        rows: MINUTES_PER_DAY,
        firstOpenTime: at('2024-09-21T00:00:00Z'),
        lastOpenTime: at('2024-09-21T23:59:00Z'),
      });
      expect(await stored()).toEqual(
        readKlineCsv('klines/alpaca-bot/BTCUSDT-1m-2024-09-21.csv', 'BTCUSDT', '1m'),
      );
    },
  );

  it.skipIf(!HAS_SHARED_FIXTURES)(
    `imports a real ETHUSDT zip and rejects a futures zip on its header line${SKIPPED_WITHOUT_FIXTURES}`,
    async () => {
      const spot = fixturePath('klines/live_trading_indicators/ETHUSDT-1m-2022-08-14.zip');
      const futures = fixturePath(
        'klines/live_trading_indicators/futures_um_NOT_SPOT/BTCUSDT-1m-2022-09-05.zip',
      );
      const [eth, btc] = await importFiles([spot, futures], { store });
      expect(eth).toMatchObject({
        symbol: 'ETHUSDT',
        rows: MINUTES_PER_DAY,
        firstOpenTime: at('2022-08-14T00:00:00Z'),
        lastOpenTime: at('2022-08-14T23:59:00Z'),
      });
      expect(eth?.error).toBeUndefined();
      expect(btc?.error?.line).toBe(1);
      expect(btc?.error?.message).toMatch(new RegExp(`^${escape(futures)}:1: header row`));
      expect(await stored('BTCUSDT')).toEqual([]);
    },
  );
});

describe('npm run import (the real CLI in a child process)', () => {
  it('prints a summary line per file and in total, exits 1 on a bad file and names its line', async () => {
    const database = join(tmp, 'cli', 'x.db');
    const good = write('BTCUSDT-1m-2024-09-21.csv', klineFile(DAY_START, MINUTES_PER_DAY));
    const bad = write('ETHUSDT-1m-2024-09-21.csv', dayWithLine(5, klineRow(at(DAY_START))));

    const ok = await runImportCli([good], `sqlite:${database}`);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${good}: 1440 rows of BTCUSDT, 2024-09-21T00:00Z to 2024-09-21T23:59Z\n`);
    expect(ok.stdout).toMatch(
      /^imported 1440 rows from 1 file\(s\) in \d+\.\d\d s \([\d,]+ rows\/s\); 0 failed$/m,
    );

    const failed = await runImportCli([bad, good], `sqlite:${database}`);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      new RegExp(`^error: ${escape(bad)}:5: open time 2024-09-21T00:00Z comes before`, 'm'),
    );
    expect(failed.stderr).not.toMatch(/\n\s+at /);
    expect(failed.stdout).toMatch(/imported 1440 rows from 1 file\(s\) in .*; 1 failed\n$/);

    const reopened = new SqliteStore({ path: database });
    try {
      expect(await reopened.candleSpan('BTCUSDT')).toEqual({
        firstOpenTime: at(DAY_START),
        lastOpenTime: at('2024-09-21T23:59:00Z'),
      });
      expect(await reopened.candleSpan('ETHUSDT')).toBeUndefined();
    } finally {
      await reopened.close();
    }
  });

  it("stops on a terminal's Ctrl-C to `npm run import` between rows: keeps the files imported, writes nothing of the one being read, exits 130", async () => {
    const database = join(tmp, 'cli', 'interrupted.db');
    const months = ['2024-01', '2024-02', '2024-03', '2024-04', '2024-05', '2024-06'];
    const files = months.map((month, i) => {
      const start = Date.parse(`${month}-01T00:00:00Z`);
      const end = Date.parse(`${months[i + 1] ?? '2024-07'}-01T00:00:00Z`);
      return write(`BTCUSDT-1m-${month}.csv`, klineFile(`${month}-01T00:00:00Z`, (end - start) / 60_000));
    });
    const probe = new SqliteStore({ path: database });
    let result: Awaited<ReturnType<typeof runImportCli>>;
    let poll: NodeJS.Timeout | undefined;
    try {
      // SIGINT to npm's whole process group, as Ctrl-C: the command hears it, and npm passes it on.
      result = await runNpmScript('import', files, { DATABASE_URL: `sqlite:${database}` }, (kill) => {
        // Interrupted once the first month is stored, while later ones are still being read.
        let sent = false;
        poll = setInterval(() => {
          void probe.candleSpan('BTCUSDT').then((span) => {
            // Reads still under way when the first found the month answer after it: one Ctrl-C.
            if (!span || sent) return;
            sent = true;
            clearInterval(poll);
            kill('SIGINT');
            // Its echo, as a second Ctrl-C or a tsx parent passes the signal on once more.
            setTimeout(() => kill('SIGINT'), SIGNAL_ECHO_MS / 10);
          });
        }, 20);
      });
      clearInterval(poll); // a run that ended before storing a month leaves it polling
      expect(result.code).toBe(130);
      const [, count = ''] =
        /interrupted by SIGINT: (\d+) file\(s\) imported and kept/.exec(result.stdout) ?? [];
      const imported = Number(count);
      expect(imported).toBeGreaterThanOrEqual(1);
      expect(imported).toBeLessThan(months.length);
      // Whole files only: exactly the months it says it imported.
      const last = Date.parse(`${months[imported] ?? '2024-07'}-01T00:00:00Z`) - 60_000;
      expect(await probe.candleSpan('BTCUSDT')).toEqual({
        firstOpenTime: Date.parse('2024-01-01T00:00:00Z'),
        lastOpenTime: last,
      });
      const minutes = (last + 60_000 - Date.parse('2024-01-01T00:00:00Z')) / 60_000;
      expect(
        await probe.countCandles({
          symbol: 'BTCUSDT',
          resolution: '1m',
          from: 0,
          to: Number.MAX_SAFE_INTEGER,
        }),
      ).toBe(minutes);
    } finally {
      await probe.close();
    }
  }, 60_000);

  it('corrects a stored closed candle only with --replace, rebuilding its rollups', async () => {
    const database = join(tmp, 'cli', 'replace.db');
    // A bad archive: the first row's volume is wrong.
    const [first = '', ...rest] = klineFile(DAY_START, MINUTES_PER_DAY).split('\n');
    const wrong = first
      .split(',')
      .map((field, i) => (i === 5 ? '11.00000000' : field))
      .join(',');
    const bad = write('BTCUSDT-1m-2024-09-21.csv', [wrong, ...rest].join('\n'));
    const good = write('BTCUSDT-1m-2024-09-21.csv', klineFile(DAY_START, MINUTES_PER_DAY));
    expect((await runImportCli([bad], `sqlite:${database}`)).code).toBe(0);
    // A closed candle stored is final: importing the right file changes nothing.
    const kept = await runImportCli([good], `sqlite:${database}`);
    expect(kept.code).toBe(0);
    const volumeOfFirst = async () => {
      const reopened = new SqliteStore({ path: database });
      try {
        const [minute] = await stored('BTCUSDT', '1m', reopened);
        const [hour] = await stored('BTCUSDT', '1h', reopened);
        return [minute?.volume, hour?.volume];
      } finally {
        await reopened.close();
      }
    };
    expect(await volumeOfFirst()).toEqual(['11', '99.5']); // 11 + 59 × 1.5
    const replaced = await runImportCli(['--replace', good], `sqlite:${database}`);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toContain(
      `${good}: 1440 rows of BTCUSDT, 2024-09-21T00:00Z to 2024-09-21T23:59Z; 1 new or corrected\n`,
    );
    expect(await volumeOfFirst()).toEqual(['1.5', '90']);
    // On a terminal too, where each file has a progress bar, the line says what was corrected.
    const again = await runInTerminal('src/cli/import.ts', ['--replace', bad], {
      DATABASE_URL: `sqlite:${database}`,
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      `${bad}: 1440 rows of BTCUSDT, 2024-09-21T00:00Z to 2024-09-21T23:59Z; 1 new or corrected`,
    );
  });

  it('names the file when the store refuses its write', async () => {
    const file = write('BTCUSDT-1m-2024-09-21.csv', klineFile(DAY_START, MINUTES_PER_DAY));
    const busy = withOverrides<Store>(store, {
      upsertCandles: () => Promise.reject(new UnavailableError('the database is busy; try again shortly')),
    });
    const [result] = await importFiles([file], { store: busy });
    expect(result?.error?.message).toBe(`${file}: the database is busy; try again shortly`);
  });

  it('reads a file saved with a byte order mark', async () => {
    const file = write('BTCUSDT-1m-2024-09-21.csv', `\uFEFF${klineFile(DAY_START, MINUTES_PER_DAY)}`);
    const [result] = await importFiles([file], { store });
    expect(result).toMatchObject({ rows: MINUTES_PER_DAY, firstOpenTime: at(DAY_START) });
  });

  it('says in one line, without a stack, that DATABASE_URL names a file that is no SQLite database', async () => {
    const notADatabase = write('not-a-database.db', 'plain text, not SQLite\n'.repeat(200));
    const good = write('BTCUSDT-1m-2024-09-21.csv', klineFile(DAY_START, 10));
    const run = await runImportCli([good], `sqlite:${notADatabase}`);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: file is not a database \(SQLITE_NOTADB\)$/m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints usage and exits 2 when given no files', async () => {
    const run = await runImportCli([], 'sqlite::memory:');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^usage: npm run import -- \[--replace\] FILE…/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
