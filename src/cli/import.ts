/**
 * `npm run import -- FILE…` (SPEC section 8): loads data.binance.vision 1m kline files (`.csv` or
 * `.zip`) into the store named by DATABASE_URL. Exit code 0 when every file was imported, 1 when
 * any failed (or the store could not be opened), 2 for a usage error, 130 after SIGINT and 143 after
 * SIGTERM: on the first signal the file being read is abandoned unwritten, no further file starts,
 * the progress bars are put away (the terminal's cursor restored) and the files imported are
 * listed; a second signal, a second or more later (not the echo of the first: run-cli.ts), ends the
 * process at once (each file is one transaction).
 */
import { basename, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { openStore } from '../adapters/create-store.js';
import {
  EXIT_FAILED,
  EXIT_OK,
  EXIT_ON_SIGNAL,
  EXIT_USAGE,
  listenForInterruption,
  runCli,
} from './run-cli.js';
import { invocationDirectory, loadConfigFromProcess } from '../config.js';
import { importFiles, type FileImportResult, type ImportProgress } from './import-files.js';
import { isoMinute, storedNotes } from './lines.js';

const MS_PER_SECOND = 1000;

const USAGE = `usage: npm run import -- [--replace] FILE…
  FILE       a data.binance.vision spot 1m kline file, daily or monthly, .csv or .zip
             (e.g. BTCUSDT-1m-2024-09-21.zip, BTCUSDT-1m-2024-09.csv)
  --replace  write the files' candles over those stored, closed ones included (to correct history
             imported from a bad archive); without it a closed candle stored is kept as it is
The store is DATABASE_URL (sqlite:<path>, or postgres://… for a PostgreSQL database). A file with
a bad row is not written at all; the other files are still imported.
`;

interface Reporter {
  onProgress(event: ImportProgress): void;
  /** Ends any live display, so later output starts on a clean line. */
  stop(): void;
}

function failureLines(result: FileImportResult): string {
  if (!result.error) return '';
  const stack = result.error.unexpected?.stack;
  // Validation failures are expected and speak for themselves; anything else is a bug worth its stack.
  return `error: ${result.error.message}\n${stack ? `${stack}\n` : ''}`;
}

function successLine(result: FileImportResult): string {
  const span = `${isoMinute(result.firstOpenTime)} to ${isoMinute(result.lastOpenTime)}`;
  return `${result.file}: ${result.rows} rows of ${result.symbol ?? '?'}, ${span}${storedNotes(result)}\n`;
}

/** Pipes and CI logs: one line per file, nothing redrawn. */
function lineReporter(): Reporter {
  return {
    onProgress(event) {
      if (event.type !== 'done') return;
      if (event.result.error) process.stderr.write(failureLines(event.result));
      else process.stdout.write(successLine(event.result));
    },
    stop() {},
  };
}

/** A terminal: one bar per file, counting rows parsed against the minutes in the file's period. */
function barReporter(): Reporter {
  const bars = new MultiBar(
    {
      stream: process.stderr,
      format: '{file} [{bar}] {value}/{total} rows',
      hideCursor: true,
      barsize: 30,
      autopadding: true,
    },
    Presets.shades_classic,
  );
  const byFile = new Map<string, SingleBar>();
  return {
    onProgress(event) {
      if (event.type === 'start') {
        byFile.set(event.file, bars.create(event.expectedRows, 0, { file: basename(event.file) }));
        return;
      }
      if (event.type === 'rows') {
        byFile.get(event.file)?.update(event.rows);
        return;
      }
      const { result } = event;
      const bar = byFile.get(result.file);
      byFile.delete(result.file);
      if (result.error) {
        bars.log(failureLines(result));
        // Both redraw at once, which is what writes the logged lines out above the bars.
        if (!bar || !bars.remove(bar)) bars.update();
      } else if (bar) {
        // A period can have fewer rows than minutes (trading halts), so the bar ends at the real count.
        bar.setTotal(result.rows);
        bar.update(result.rows);
        // What a bar cannot say (corrections, a recorded hole) gets the file's line above the bars.
        if (storedNotes(result) !== '') {
          bars.log(successLine(result));
          bars.update();
        }
      }
    },
    stop() {
      bars.stop();
    },
  };
}

function summaryLine(results: readonly FileImportResult[], elapsedMs: number): string {
  const imported = results.filter((result) => !result.error);
  const rows = imported.reduce((total, result) => total + result.rows, 0);
  const seconds = elapsedMs / MS_PER_SECOND;
  const rate = seconds > 0 ? Math.round(rows / seconds).toLocaleString('en-US') : '?';
  const failed = results.length - imported.length;
  return `imported ${rows} rows from ${imported.length} file(s) in ${seconds.toFixed(2)} s (${rate} rows/s); ${failed} failed\n`;
}

async function main(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  const replace = args.includes('--replace');
  const files = args.filter((arg) => arg !== '--' && arg !== '--replace');
  const option = files.find((file) => file.startsWith('-'));
  if (files.length === 0 || option !== undefined) {
    process.stderr.write(option === undefined ? USAGE : `error: unknown option ${option}\n${USAGE}`);
    return EXIT_USAGE;
  }
  const paths = files.map((file) => resolve(invocationDirectory('import'), file));
  const config = loadConfigFromProcess();
  const store = await openStore(config.databaseUrl);
  const interruption = listenForInterruption();
  const started = performance.now();
  const reporter = process.stderr.isTTY ? barReporter() : lineReporter();
  let results: FileImportResult[];
  try {
    results = await importFiles(paths, {
      store,
      replace,
      signal: interruption.signal,
      onProgress: (event) => reporter.onProgress(event),
    });
  } finally {
    reporter.stop();
    interruption.release();
    await store.close();
  }
  process.stdout.write(summaryLine(results, performance.now() - started));
  const interruptedBy = interruption.by();
  if (interruptedBy) {
    const imported = results.filter((result) => !result.error).map((result) => result.file);
    const notStarted = files.length - results.length;
    process.stdout.write(
      `interrupted by ${interruptedBy}: ${imported.length} file(s) imported and kept` +
        `${imported.length > 0 ? ` (${imported.join(', ')})` : ''}; ${notStarted} not started\n`,
    );
    return EXIT_ON_SIGNAL[interruptedBy];
  }
  return results.some((result) => result.error) ? EXIT_FAILED : EXIT_OK;
}

await runCli(main);
