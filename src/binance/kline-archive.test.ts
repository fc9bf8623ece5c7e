import { describe, expect, it } from 'vitest';

import { klineFile, klineRow } from '../../test/helpers/kline-rows.js';
import { ValidationError } from '../domain/errors.js';
import {
  ImportFileError,
  ImportRowError,
  MAX_ROWS_PER_FILE,
  parseArchiveFileName,
  parseKlineLines,
  parseKlineRow,
  type ArchiveFileName,
} from './kline-archive.js';

const FILE = 'BTCUSDT-1m-2024-09-21.csv';
const SOURCE = { file: FILE, symbol: 'BTCUSDT' };
const at = (iso: string): number => Date.parse(iso);
/** A real row of that file (../shared/fixtures/klines/alpaca-bot), first minute of the day. */
const REAL_ROW =
  '1726876800000,63201.05000000,63201.06000000,63186.00000000,63196.00000000,10.91101000,1726876859999,689505.82620870,2464,6.94903000,439120.77141390,0';
/** A real µs row (format_samples/spot_1m_BTCUSDT_2025-01-01T0000_us.csv). */
const REAL_MICRO_ROW =
  '1735689600000000,93576.00000000,93610.93000000,93537.50000000,93610.93000000,8.21827000,1735689659999999,768978.75522470,2631,3.95157000,369757.32652890,0';

/** The row with column `index` replaced. */
function withColumn(row: string, index: number, value: string): string {
  const fields = row.split(',');
  fields[index] = value;
  return fields.join(',');
}

function rowError(line: string, lineNumber = 7): ImportRowError {
  try {
    parseKlineRow(line, lineNumber, SOURCE);
  } catch (error) {
    if (error instanceof ImportRowError) return error;
    throw error;
  }
  throw new Error(`row was accepted: ${line}`);
}

const linesOf = (text: string): string[] => text.split('\n').filter((line) => line !== '');

describe('parseArchiveFileName', () => {
  it('reads symbol, interval and day from a daily csv name, ignoring the directory', () => {
    expect(parseArchiveFileName('/data/spot/BTCUSDT-1m-2024-09-21.csv')).toEqual({
      symbol: 'BTCUSDT',
      interval: '1m',
      period: '2024-09-21',
      periodStart: at('2024-09-21T00:00:00Z'),
      periodEnd: at('2024-09-22T00:00:00Z'),
      format: 'csv',
    });
  });

  it('reads a monthly zip name as the whole calendar month', () => {
    const name = parseArchiveFileName('ETHUSDT-1m-2024-02.zip');
    expect(name).toMatchObject({ symbol: 'ETHUSDT', period: '2024-02', format: 'zip' });
    expect(name.periodStart).toBe(at('2024-02-01T00:00:00Z'));
    expect(name.periodEnd).toBe(at('2024-03-01T00:00:00Z'));
  });

  it('accepts symbols with non-ASCII letters, as Binance lists them', () => {
    expect(parseArchiveFileName('币安人生USDT-1m-2025-10-08.zip').symbol).toBe('币安人生USDT');
  });

  it('rejects other intervals, saying only 1m can be imported and why', () => {
    for (const name of ['BTCUSDT-1h-2024-08.csv', 'BTCUSDT-1s-2024-08-01.zip', 'BTCUSDT-1mo-2024-08.zip']) {
      expect(() => parseArchiveFileName(name)).toThrow(/only 1m files can be imported.*longer interval/);
    }
  });

  it('rejects names that are not data.binance.vision kline names', () => {
    for (const name of [
      'BTCUSDT_1m_2024-09-21.csv',
      'BTCUSDT-1m-2024-09-21.txt',
      'btcusdt-1m-2024-09-21.csv',
      'BTCUSDT-1x-2024-09-21.csv',
      'BTCUSDT-1m-2024-9-21.csv',
      'spot_1m_BTCUSDT_2025-01-01T0000_us.csv',
    ]) {
      expect(() => parseArchiveFileName(name), name).toThrow(/not a data\.binance\.vision kline file name/);
    }
  });

  it('rejects dates that do not exist', () => {
    expect(() => parseArchiveFileName('BTCUSDT-1m-2023-02-29.csv')).toThrow(/2023-02-29 is not a date/);
    expect(() => parseArchiveFileName('BTCUSDT-1m-2024-13.zip')).toThrow(/2024-13 is not a date/);
  });

  it('throws a ValidationError that names the file', () => {
    const error = (() => {
      try {
        return parseArchiveFileName('dir/x.csv');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ImportFileError);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ImportFileError).message).toMatch(/^dir\/x\.csv: /);
  });
});

describe('parseKlineRow', () => {
  it('turns a real ms row into a closed 1m candle with canonical decimals', () => {
    expect(parseKlineRow(REAL_ROW, 1, SOURCE)).toEqual({
      symbol: 'BTCUSDT',
      interval: '1m',
      openTime: 1726876800000,
      closeTime: 1726876859999,
      open: '63201.05',
      high: '63201.06',
      low: '63186',
      close: '63196',
      volume: '10.91101',
      quoteVolume: '689505.8262087',
      trades: 2464,
      takerBuyVolume: '6.94903',
      takerBuyQuoteVolume: '439120.7714139',
      closed: true,
      eventTime: 1726876860000,
    });
  });

  it('converts µs timestamps to ms, closing on the last ms of the minute', () => {
    const candle = parseKlineRow(REAL_MICRO_ROW, 1, SOURCE);
    expect(candle.openTime).toBe(at('2025-01-01T00:00:00Z'));
    expect(candle.closeTime).toBe(at('2025-01-01T00:01:00Z') - 1);
    expect(candle.eventTime).toBe(at('2025-01-01T00:01:00Z'));
  });

  it('reads ms and µs rows of the same minute as the same candle', () => {
    const time = at('2024-09-21T10:00:00Z');
    expect(parseKlineRow(klineRow(time, 3, { micro: true }), 1, SOURCE)).toEqual(
      parseKlineRow(klineRow(time, 3), 1, SOURCE),
    );
  });

  it('tolerates a trailing carriage return', () => {
    expect(parseKlineRow(`${REAL_ROW}\r`, 1, SOURCE)).toEqual(parseKlineRow(REAL_ROW, 1, SOURCE));
  });

  it('refuses a row without its ignore column, as a download cut inside taker_buy_quote leaves it', () => {
    const withoutIgnore = REAL_ROW.slice(0, REAL_ROW.lastIndexOf(','));
    expect(rowError(withoutIgnore).message).toMatch(/expected 12 comma-separated columns, got 11/);
    expect(rowError(withoutIgnore.slice(0, -3)).message).toMatch(/got 11/);
  });

  it('reports a header row as a bad row, hinting at a futures file', () => {
    const error = rowError(
      'open_time,open,high,low,close,volume,close_time,quote_volume,count,x,y,ignore',
      1,
    );
    expect(error.message).toMatch(/^BTCUSDT-1m-2024-09-21\.csv:1: header row .*futures/);
    expect(error.line).toBe(1);
    expect(error).toBeInstanceOf(ValidationError);
  });

  it('names file, line and both values when high is below open', () => {
    const row = withColumn(withColumn(REAL_ROW, 1, '1.3'), 2, '1.2');
    expect(rowError(row, 17).message).toBe('BTCUSDT-1m-2024-09-21.csv:17: high 1.2 is below open 1.3');
  });

  it('rejects a high below close or low, and a low above open or close', () => {
    expect(rowError(withColumn(REAL_ROW, 4, '63201.07')).message).toMatch(
      /high 63201\.06 is below close 63201\.07/,
    );
    expect(rowError(withColumn(REAL_ROW, 3, '63201.07')).message).toMatch(
      /high 63201\.06 is below low 63201\.07/,
    );
    const lowAboveClose = withColumn(withColumn(REAL_ROW, 3, '63196.5'), 1, '63200');
    expect(rowError(lowAboveClose).message).toMatch(/low 63196\.5 is above close 63196/);
    expect(rowError(withColumn(REAL_ROW, 3, '63201.055')).message).toMatch(
      /low 63201\.055 is above open 63201\.05/,
    );
  });

  it('rejects columns that are not decimals, negative amounts and fractional trade counts', () => {
    expect(rowError(withColumn(REAL_ROW, 5, 'abc')).message).toMatch(
      /:7: volume "abc" is not a decimal number/,
    );
    expect(rowError(withColumn(REAL_ROW, 7, '1e5')).message).toMatch(/quote_volume "1e5" is not a decimal/);
    expect(rowError(withColumn(REAL_ROW, 9, '-1')).message).toMatch(/taker_buy_base -1 is negative/);
    expect(rowError(withColumn(REAL_ROW, 8, '12.5')).message).toMatch(
      /trades "12.5" is not a non-negative integer/,
    );
    expect(rowError(withColumn(REAL_ROW, 8, '-3')).message).toMatch(/trades "-3"/);
  });

  it('rejects a wrong number of columns and an empty line', () => {
    expect(rowError('1726876800000,1,1,1').message).toMatch(/expected 12 comma-separated columns, got 4/);
    expect(rowError(`${REAL_ROW},extra`).message).toMatch(/got 13/);
    expect(rowError('').message).toMatch(/:7: empty line/);
  });

  it('rejects an open time off the minute and a close time that is not open + 1 minute - 1', () => {
    expect(rowError(withColumn(REAL_ROW, 0, '1726876801000')).message).toMatch(
      /open_time 1726876801000 .* not on a minute/,
    );
    expect(rowError(withColumn(REAL_ROW, 6, '1726876860000')).message).toMatch(
      /close_time 1726876860000 is not open_time \+ 1 minute - 1 \(1726876859999\)/,
    );
  });

  it('rejects µs times that are not whole ms, mixed units and times that are neither unit', () => {
    expect(rowError(withColumn(REAL_MICRO_ROW, 0, '1735689600000001')).message).toMatch(
      /not a whole millisecond/,
    );
    expect(rowError(withColumn(REAL_MICRO_ROW, 6, '1735689659999')).message).toMatch(/different units/);
    expect(rowError(withColumn(REAL_ROW, 0, '17268768000000')).message).toMatch(
      /neither epoch ms nor epoch µs/,
    );
    expect(rowError(withColumn(REAL_ROW, 0, '2024-09-21')).message).toMatch(
      /open_time "2024-09-21" is not an epoch time/,
    );
  });
});

describe('parseKlineLines', () => {
  const name = parseArchiveFileName(FILE);

  it('returns every row of a valid file in order', async () => {
    const candles = await parseKlineLines(linesOf(klineFile('2024-09-21T00:00:00Z', 5)), FILE, name);
    expect(candles.map((candle) => candle.openTime)).toEqual(
      [0, 1, 2, 3, 4].map((minute) => at('2024-09-21T00:00:00Z') + minute * 60_000),
    );
  });

  it('keeps real gaps: a missing minute is not an error', async () => {
    const text = [klineRow(at('2024-09-21T00:00:00Z')), klineRow(at('2024-09-21T00:05:00Z'))].join('\n');
    expect(await parseKlineLines(linesOf(text), FILE, name)).toHaveLength(2);
  });

  it('rejects a repeated row and a row that goes backwards, naming the line', async () => {
    const first = klineRow(at('2024-09-21T00:01:00Z'));
    await expect(parseKlineLines(linesOf(`${first}\n${first}`), FILE, name)).rejects.toThrow(
      /^BTCUSDT-1m-2024-09-21\.csv:2: open time 2024-09-21T00:01Z repeats the previous row's/,
    );
    const earlier = klineRow(at('2024-09-21T00:00:00Z'));
    await expect(parseKlineLines(linesOf(`${first}\n${earlier}`), FILE, name)).rejects.toThrow(
      /:2: open time 2024-09-21T00:00Z comes before the previous row's 2024-09-21T00:01Z/,
    );
  });

  it("rejects a row outside the file's day", async () => {
    const text = klineFile('2024-09-21T23:59:00Z', 2);
    await expect(parseKlineLines(linesOf(text), FILE, name)).rejects.toThrow(
      /:2: open time 2024-09-22T00:00Z is outside 2024-09-21/,
    );
  });

  it('ignores blank lines at the end of the file, and refuses one with rows after it', async () => {
    const rows = [klineRow(at('2024-09-21T00:00:00Z')), klineRow(at('2024-09-21T00:01:00Z'))];
    expect(await parseKlineLines([...rows, '', '\r', ''], FILE, name)).toHaveLength(2);
    await expect(parseKlineLines([rows[0]!, '', rows[1]!], FILE, name)).rejects.toThrow(
      /^BTCUSDT-1m-2024-09-21\.csv:2: empty line/,
    );
  });

  it('rejects a file with no rows', async () => {
    await expect(parseKlineLines(linesOf(''), FILE, name)).rejects.toThrow(`${FILE}: no rows`);
  });

  it('stops at MAX_ROWS_PER_FILE rows (31 days of minutes) without reading further', async () => {
    const wide: ArchiveFileName = { ...name, periodEnd: name.periodStart + 40 * 86_400_000 };
    let linesRead = 0;
    function* endless(): Generator<string> {
      for (let minute = 0; ; minute++) {
        linesRead++;
        yield klineRow(name.periodStart + minute * 60_000);
      }
    }
    await expect(parseKlineLines(endless(), FILE, wide)).rejects.toThrow(
      new RegExp(`:${MAX_ROWS_PER_FILE + 1}: more than ${MAX_ROWS_PER_FILE} rows`),
    );
    expect(linesRead).toBe(MAX_ROWS_PER_FILE + 1);
  });

  it('reports progress as rows are parsed', async () => {
    const seen: number[] = [];
    await parseKlineLines(linesOf(klineFile('2024-09-21T00:00:00Z', 3)), FILE, name, (rows) =>
      seen.push(rows),
    );
    expect(seen).toEqual([1, 2, 3]);
  });
});
