/**
 * `npm run backfill -- --symbols A,B --from T --to T` (SPEC section 8): fetches the 1m klines of a
 * range from BINANCE_REST_URL into the store named by DATABASE_URL, one symbol after another, with
 * a progress bar per symbol on a terminal and one line per symbol otherwise. Run it again after an
 * interruption and it resumes from the last stored candle (market/backfill.ts).
 *
 * Exit codes: 0 when every symbol completed; 1 when any failed (or the config or store is bad);
 * 2 for a usage error; 130 after SIGINT and 143 after SIGTERM (128 + the signal number, as shells
 * report it), whatever else happened, since the run is incomplete. On the first signal the page in
 * flight is abandoned, everything stored so far is kept and listed, and the store is closed; a
 * second signal, a second or more later, ends the process at once (each page is one transaction, so
 * nothing is half-written).
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { openStore } from '../adapters/create-store.js';
import { createRestClient } from '../binance/rest-client.js';
import {
  EXIT_FAILED,
  EXIT_OK,
  EXIT_ON_SIGNAL,
  EXIT_USAGE,
  listenForInterruption,
  runCli,
} from './run-cli.js';
import { loadConfigFromProcess } from '../config.js';
import { MINUTE_MS, bucketOpenTime } from '../domain/intervals.js';
import { isSymbolName } from '../domain/symbol.js';
import { lastSettledMinute } from '../binance/rest-wire.js';
import { isoMinute, storedNotes } from './lines.js';
import { backfill, type BackfillProgress, type SymbolBackfillResult } from '../market/backfill.js';

const MS_PER_SECOND = 1000;

const USAGE = `usage: npm run backfill -- --symbols A,B --from T [--to T] [--replace]
  --symbols  comma list of symbols, e.g. BTCUSDT,ETHUSDT
  --from     first minute wanted: epoch ms (0, or from 2017 on) or ISO 8601 (UTC unless an
             offset is given), e.g. 2024-09-01, 2024-09-01T12:00, 2024-09-01T12:00+02:00,
             1725148800000
  --to       last minute wanted, inclusive, same forms (default and latest: the last minute the
             exchange has settled, about a minute ago; the service fetches the minutes after it)
  --replace  fetch the whole range and write it over the candles stored, closed ones included (to
             correct history imported from a bad archive); without it a stored closed candle is kept
The store is DATABASE_URL, the exchange BINANCE_REST_URL. An interrupted backfill resumes from the
last stored candle when run again.
`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `YYYY-MM-DD[(T| )hh:mm[:ss[.sss]]][Z|±hh[:]mm]` */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const EPOCH_MS = /^\d+$/;
/**
 * Epoch ms from 1 up to here are refused: 2017-01-01, before Binance opened (July 2017), so such a
 * number is almost surely epoch seconds or a date without dashes (20241120), which would read as
 * 1970 and fetch a pair's whole history. 0 stays: "from the beginning", as written.
 */
const MIN_EPOCH_MS = Date.UTC(2017, 0, 1);
const LAST_HOUR = 23;
const LAST_MINUTE = 59;

/** Epoch ms from epoch ms or ISO 8601; a time without an offset is UTC (JavaScript would read it as local). */
function parseTime(text: string, option: string): number {
  const trimmed = text.trim();
  if (EPOCH_MS.test(trimmed)) {
    const ms = Number(trimmed);
    if (ms > 0 && ms < MIN_EPOCH_MS) {
      throw new UsageError(
        `--${option} "${text}" reads as epoch ms before 2017, before Binance opened: epoch seconds, or a date without dashes? Give epoch ms or YYYY-MM-DD`,
      );
    }
    if (Number.isSafeInteger(ms)) return ms;
  }
  const match = ISO_TIME.exec(trimmed);
  if (match) {
    const [, year = '', month = '', day = '', hour = '00', minute = '00', second = '00'] = match;
    const fraction = match[7] ?? '';
    const zone = (match[8] ?? 'Z').toUpperCase();
    const offset = zone === 'Z' || zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
    // Date.parse rolls 2024-02-30 over to March; the calendar date must exist as written.
    const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
    const dateExists = date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day);
    const ms = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${fraction}${offset}`);
    const timeValid =
      Number(hour) <= LAST_HOUR && Number(minute) <= LAST_MINUTE && Number(second) <= LAST_MINUTE;
    if (dateExists && timeValid && Number.isFinite(ms) && ms >= 0) return ms;
  }
  throw new UsageError(`--${option} "${text}" is neither epoch ms nor an ISO 8601 time`);
}

interface Arguments {
  readonly help: boolean;
  readonly symbols: string[];
  readonly from: number;
  readonly to: number;
  /** Whether `--to` asked for minutes after the last settled one (and `to` was brought back to it). */
  readonly toClamped: boolean;
  readonly replace: boolean;
}

function parseArguments(args: string[], now: number): Arguments {
  let values;
  let tokens;
  try {
    ({ values, tokens } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      tokens: true,
      options: {
        symbols: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        replace: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  // parseArgs keeps the last of a repeated option: `--symbols A --symbols B` would drop A unsaid.
  const given = tokens.flatMap((token) => (token.kind === 'option' ? [token.name] : []));
  const repeated = given.find((name, i) => given.indexOf(name) !== i);
  if (repeated !== undefined) throw new UsageError(`--${repeated} is given more than once`);
  if (values.help) return { help: true, symbols: [], from: 0, to: 0, toClamped: false, replace: false };
  if (values.symbols === undefined) throw new UsageError('--symbols is required');
  if (values.from === undefined) throw new UsageError('--from is required');
  const symbols = [
    ...new Set(
      values.symbols
        .split(',')
        .map((symbol) => symbol.trim().toUpperCase())
        .filter((symbol) => symbol !== ''),
    ),
  ];
  const bad = symbols.filter((symbol) => !isSymbolName(symbol));
  if (symbols.length === 0 || bad.length > 0) {
    throw new UsageError(
      `--symbols needs a comma list of symbols${bad.length ? `, not ${bad.join(', ')}` : ''}`,
    );
  }
  const from = parseTime(values.from, 'from');
  const wanted = values.to === undefined ? undefined : parseTime(values.to, 'to');
  if (wanted !== undefined && from > wanted) throw new UsageError('--from must not be after --to');
  const settled = lastSettledMinute(now);
  if (bucketOpenTime(from, MINUTE_MS) > settled) {
    throw new UsageError(
      `--from is after ${isoMinute(settled)}, the last minute the exchange has settled: nothing to backfill yet`,
    );
  }
  const toClamped = wanted !== undefined && bucketOpenTime(wanted, MINUTE_MS) > settled;
  // The whole settled minute: a --from inside it still comes before --to.
  const to = wanted === undefined || toClamped ? settled + MINUTE_MS - 1 : wanted;
  return { help: false, symbols, from, to, toClamped, replace: values.replace === true };
}

function resultLine(result: SymbolBackfillResult): string {
  const { symbol, candles } = result;
  const span = `${isoMinute(result.firstOpenTime)} to ${isoMinute(result.lastOpenTime)}`;
  const resumed = result.resumed ? ` (resumed at ${isoMinute(result.fetchedFrom)})` : '';
  switch (result.status) {
    case 'complete':
      return candles === 0
        ? `${symbol}: no candles in the range${resumed}\n`
        : `${symbol}: ${candles} candles, ${span}${resumed}${storedNotes(result)}\n`;
    case 'aborted':
      return candles === 0
        ? `${symbol}: interrupted, nothing stored by this run\n`
        : `${symbol}: interrupted after ${candles} candles, ${span}${resumed}; kept\n`;
    case 'unknown-symbol':
      return `error: ${symbol}: unknown to the exchange (${result.error ?? ''})\n`;
    case 'failed': {
      const stored = candles > 0 ? ` after storing ${candles} candles, ${span}` : '';
      const stack = result.unexpected?.stack ? `\n${result.unexpected.stack}` : '';
      return `error: ${symbol}: ${result.error ?? 'failed'}${stored}${stack}\n`;
    }
  }
}

interface Reporter {
  onProgress(event: BackfillProgress): void;
  /** Ends any live display, so later output starts on a clean line. */
  stop(): void;
}

const isFailure = (result: SymbolBackfillResult): boolean =>
  result.status === 'failed' || result.status === 'unknown-symbol';

/** Pipes and CI logs: one line per symbol, nothing redrawn. */
function lineReporter(): Reporter {
  return {
    onProgress(event) {
      if (event.type !== 'done') return;
      (isFailure(event.result) ? process.stderr : process.stdout).write(resultLine(event.result));
    },
    stop() {},
  };
}

/** A terminal: one bar per symbol, counting minutes of the range done. */
function barReporter(): Reporter {
  const bars = new MultiBar(
    {
      stream: process.stderr,
      format: '{symbol} [{bar}] {value}/{total} min | {candles} candles',
      hideCursor: true,
      barsize: 30,
      autopadding: true,
    },
    Presets.shades_classic,
  );
  const bySymbol = new Map<string, SingleBar>();
  return {
    onProgress(event) {
      if (event.type === 'start') {
        const bar = bars.create(event.totalMinutes, event.doneMinutes, { symbol: event.symbol, candles: 0 });
        bySymbol.set(event.symbol, bar);
        return;
      }
      if (event.type === 'page') {
        bySymbol.get(event.symbol)?.update(event.doneMinutes, { candles: event.candles });
        return;
      }
      const { result } = event;
      const bar = bySymbol.get(result.symbol);
      bySymbol.delete(result.symbol);
      if (result.status === 'complete') {
        // Halts and a listing inside the range leave minutes without a candle: done is done.
        bar?.update(bar.getTotal(), { candles: result.candles });
        // What a bar cannot say (a resumed run, corrections, a recorded hole) gets the symbol's line.
        if (!result.resumed && storedNotes(result) === '') return;
      }
      bars.log(resultLine(result));
      // Both redraw at once, which is what writes the logged line out above the bars.
      if (!bar || !bars.remove(bar)) bars.update();
    },
    stop() {
      bars.stop();
    },
  };
}

function summaryLine(results: readonly SymbolBackfillResult[], elapsedMs: number): string {
  const candles = results.reduce((total, result) => total + result.candles, 0);
  const complete = results.filter((result) => result.status === 'complete').length;
  const failed = results.filter(isFailure).length;
  const seconds = elapsedMs / MS_PER_SECOND;
  const rate = seconds > 0 ? Math.round(candles / seconds).toLocaleString('en-US') : '?';
  return `backfilled ${candles} candles for ${complete} symbols in ${seconds.toFixed(2)} s (${rate} candles/s); ${failed} failed\n`;
}

async function main(args: string[]): Promise<number> {
  let parsed: Arguments;
  try {
    parsed = parseArguments(args, Date.now());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (parsed.toClamped) {
    process.stderr.write(
      `note: minutes after ${isoMinute(parsed.to)} are not settled on the exchange yet; backfilling up to it\n`,
    );
  }
  const config = loadConfigFromProcess();
  const store = await openStore(config.databaseUrl);
  const interruption = listenForInterruption();
  const rest = createRestClient({ baseUrl: config.binanceRestUrl, signal: interruption.signal });
  const reporter = process.stderr.isTTY ? barReporter() : lineReporter();
  const started = performance.now();
  let results: SymbolBackfillResult[];
  try {
    results = await backfill({
      store,
      rest,
      symbols: parsed.symbols,
      from: parsed.from,
      to: parsed.to,
      replace: parsed.replace,
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
    process.stdout.write(`interrupted by ${interruptedBy}: stored candles are kept; run again to resume\n`);
    return EXIT_ON_SIGNAL[interruptedBy];
  }
  return results.some(isFailure) ? EXIT_FAILED : EXIT_OK;
}

await runCli(main);
