/**
 * Loads data.binance.vision 1m kline files into the store, one file at a time. A file is either
 * loaded whole or not at all: every row is validated before the single write.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { openPromise, type Entry, type ZipFile } from 'yauzl';
import {
  ImportFileError,
  ImportRowError,
  MAX_CSV_BYTES,
  parseArchiveFileName,
  parseKlineLines,
  type ArchiveFileName,
} from '../binance/kline-archive.js';
import { MINUTE_MS } from '../domain/intervals.js';
import { AppError } from '../domain/errors.js';
import { splitSymbol } from '../domain/symbol.js';
import { recordGapBeforeWrite } from '../market/gap-repair.js';
import type { Store } from '../ports/store.js';

/** Progress is reported every this many rows, so a bar redraws smoothly without a callback per row. */
export const PROGRESS_EVERY_ROWS = 500;

export interface ImportFailure {
  /** `FILE:LINE: reason` for a bad row, `FILE: reason` otherwise. */
  readonly message: string;
  /** 1-based line of the bad row, when a row was at fault. */
  readonly line: number | undefined;
  /** The original error when it was not a validation failure (a bug, or the store failing). */
  readonly unexpected: Error | undefined;
}

export interface FileImportResult {
  readonly file: string;
  /** Undefined when the file name could not be read. */
  readonly symbol: string | undefined;
  /** Rows written; 0 when the file failed. */
  readonly rows: number;
  /** With `replace`: rows new or changed in the store (the others were stored as the file has them). */
  readonly changed?: number;
  /**
   * Set when the file was written past the stored series after a hole: where the service's next
   * start repairs from (`recordGapBeforeWrite`).
   */
  readonly repairFrom?: number;
  readonly firstOpenTime: number | undefined;
  readonly lastOpenTime: number | undefined;
  readonly error?: ImportFailure;
}

export type ImportProgress =
  | { readonly type: 'start'; readonly file: string; readonly symbol: string; readonly expectedRows: number }
  | { readonly type: 'rows'; readonly file: string; readonly rows: number }
  | { readonly type: 'done'; readonly result: FileImportResult };

export interface ImportOptions {
  readonly store: Store;
  readonly onProgress?: (event: ImportProgress) => void;
  /**
   * Stops the import: the file being read is abandoned unwritten (or, when its write has begun,
   * completes: one transaction), and no further file is started.
   */
  readonly signal?: AbortSignal;
  /**
   * Write each file's candles over those stored, closed ones included (`Store.replaceCandles`): to
   * correct history imported from a bad archive. Without it a closed candle stored is final.
   */
  readonly replace?: boolean;
}

/** The reason of a file abandoned because the import was interrupted. */
export const INTERRUPTED = 'interrupted before it was written';

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return error instanceof Error ? error.message : String(error);
}

/** Passes chunks through while counting bytes, so neither a huge file nor one endless line is buffered. */
async function* limitBytes(source: AsyncIterable<Buffer>, file: string): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of source) {
    bytes += chunk.length;
    if (bytes > MAX_CSV_BYTES) {
      throw new ImportFileError(file, `larger than ${MAX_CSV_BYTES} bytes, more than 31 days of 1m rows`);
    }
    yield chunk;
  }
}

async function* readLines(source: Readable, file: string): AsyncGenerator<string> {
  const input = Readable.from(limitBytes(source, file));
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    yield* lines;
  } finally {
    lines.close();
    input.destroy();
    source.destroy();
  }
}

async function* csvFileLines(file: string): AsyncGenerator<string> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    // The stream opens the file as it starts (permission denied) and fails as it reads (a bad disk).
    yield* readLines(createReadStream(file), file);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new ImportFileError(file, `cannot read: ${describeFsError(error)}`, { cause: error });
  }
}

async function openZip(file: string): Promise<ZipFile> {
  try {
    await stat(file);
  } catch (error) {
    throw new ImportFileError(file, `cannot read: ${describeFsError(error)}`, { cause: error });
  }
  try {
    return await openPromise(file, { lazyEntries: true, autoClose: false });
  } catch (error) {
    throw new ImportFileError(file, `not a readable zip archive (${describeFsError(error)})`, {
      cause: error,
    });
  }
}

/**
 * The one CSV inside a zip; only the central directory is read to find it. Its name must be the
 * zip's own with `.csv` (as data.binance.vision packs them), so that another pair's or another
 * day's rows, zipped under this name, are not stored as this one's.
 */
async function findCsvEntry(zip: ZipFile, file: string): Promise<Entry> {
  const csvEntries: Entry[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.toLowerCase().endsWith('.csv')) csvEntries.push(entry);
    }
  } catch (error) {
    throw new ImportFileError(file, `corrupt zip archive (${describeFsError(error)})`, { cause: error });
  }
  const [entry, ...more] = csvEntries;
  if (!entry || more.length > 0) {
    throw new ImportFileError(file, `expected exactly one .csv inside the zip, found ${csvEntries.length}`);
  }
  const expected = basename(file).replace(/\.zip$/, '.csv');
  if (basename(entry.fileName) !== expected) {
    throw new ImportFileError(file, `holds ${entry.fileName}, not ${expected}: another file renamed?`);
  }
  if (entry.uncompressedSize > MAX_CSV_BYTES) {
    throw new ImportFileError(
      file,
      `${entry.fileName} is ${entry.uncompressedSize} bytes, over ${MAX_CSV_BYTES}`,
    );
  }
  return entry;
}

/**
 * Passes the entry's bytes through and, at their end, refuses them unless their CRC-32 is the one
 * the zip records: yauzl does not check it, and a flipped bit inside an uncompressed (or even a
 * deflated) entry can still read as a valid row with a wrong number.
 */
async function* checkedCrc(source: Readable, entry: Entry, file: string): AsyncGenerator<Buffer> {
  let crc = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } finally {
    source.destroy();
  }
  if (crc !== entry.crc32) {
    throw new ImportFileError(file, `corrupt zip archive (${entry.fileName} fails its CRC-32 check)`);
  }
}

async function* zipFileLines(file: string): AsyncGenerator<string> {
  const zip = await openZip(file);
  try {
    const entry = await findCsvEntry(zip, file);
    let stream: Readable;
    try {
      stream = await zip.openReadStreamPromise(entry);
    } catch (error) {
      throw new ImportFileError(file, `cannot read ${entry.fileName} (${describeFsError(error)})`, {
        cause: error,
      });
    }
    try {
      yield* readLines(Readable.from(checkedCrc(stream, entry, file)), file);
    } catch (error) {
      if (error instanceof AppError) throw error;
      // A bad deflate stream or a size mismatch surfaces while reading, not while opening.
      throw new ImportFileError(file, `corrupt zip archive (${describeFsError(error)})`, { cause: error });
    }
  } finally {
    zip.close();
  }
}

function toFailure(file: string, error: unknown): ImportFailure {
  if (error instanceof AppError) {
    // A file's own errors name it (and the line); the store's (busy, unreachable) do not.
    const message = error instanceof ImportFileError ? error.message : `${file}: ${error.message}`;
    return { message, line: error instanceof ImportRowError ? error.line : undefined, unexpected: undefined };
  }
  const unexpected = error instanceof Error ? error : new Error(String(error));
  return { message: `${file}: ${unexpected.message}`, line: undefined, unexpected };
}

async function importFile(file: string, options: ImportOptions): Promise<FileImportResult> {
  const { store, onProgress } = options;
  let name: ArchiveFileName | undefined;
  try {
    name = parseArchiveFileName(file);
    onProgress?.({
      type: 'start',
      file,
      symbol: name.symbol,
      expectedRows: (name.periodEnd - name.periodStart) / MINUTE_MS,
    });
    const read = name.format === 'zip' ? zipFileLines(file) : csvFileLines(file);
    const lines = options.signal ? untilAborted(read, options.signal, file) : read;
    const candles = await parseKlineLines(lines, file, name, (rows) => {
      if (rows % PROGRESS_EVERY_ROWS === 0) onProgress?.({ type: 'rows', file, rows });
    });
    // Imported history does not start live tracking: a new symbol is stored inactive, and an
    // existing one keeps its state.
    const { baseAsset, quoteAsset } = splitSymbol(name.symbol);
    await store.insertSymbolsIfMissing([
      { symbol: name.symbol, baseAsset, quoteAsset, status: 'TRADING', isActive: false },
    ]);
    const first = candles[0];
    const repairFrom = first && (await recordGapBeforeWrite(store, name.symbol, first.openTime));
    // One call is one transaction: the file is stored whole or not at all.
    let changed: number | undefined;
    if (options.replace) changed = await store.replaceCandles(candles);
    else await store.upsertCandles(candles);
    return {
      file,
      symbol: name.symbol,
      rows: candles.length,
      ...(changed === undefined ? {} : { changed }),
      ...(repairFrom === undefined ? {} : { repairFrom }),
      firstOpenTime: candles[0]?.openTime,
      lastOpenTime: candles.at(-1)?.openTime,
    };
  } catch (error) {
    return {
      file,
      symbol: name?.symbol,
      rows: 0,
      firstOpenTime: undefined,
      lastOpenTime: undefined,
      error: toFailure(file, error),
    };
  }
}

/** The lines of `source` until `signal` fires, then an ImportFileError (INTERRUPTED). */
async function* untilAborted(
  source: AsyncGenerator<string>,
  signal: AbortSignal,
  file: string,
): AsyncGenerator<string> {
  for await (const line of source) {
    if (signal.aborted) throw new ImportFileError(file, INTERRUPTED);
    yield line;
  }
}

/**
 * Imports each file in turn; a failed file is reported and the next one still runs. Once `signal`
 * fires no further file is started: the results then cover the files attempted.
 */
export async function importFiles(
  files: readonly string[],
  options: ImportOptions,
): Promise<FileImportResult[]> {
  const results: FileImportResult[] = [];
  for (const file of files) {
    if (options.signal?.aborted) break;
    const result = await importFile(file, options);
    options.onProgress?.({ type: 'done', result });
    results.push(result);
  }
  return results;
}
