/** data.binance.vision style 1m kline rows for tests: no header, 12 columns, 8-decimal strings. */
const MINUTE_MS = 60_000;
const MICROSECONDS_PER_MS = 1000;

export interface RowOptions {
  /** Write open and close times in µs, as spot files do from 2025-01-01. */
  readonly micro?: boolean;
}

/** One row opening at `openTime` (ms); prices rise with `step` so every row differs. */
export function klineRow(openTime: number, step = 0, options: RowOptions = {}): string {
  const unit = options.micro ? MICROSECONDS_PER_MS : 1;
  const open = 100 + step;
  const fields = [
    String(openTime * unit),
    `${open}.00000000`,
    `${open + 1}.00000000`,
    `${open - 1}.00000000`,
    `${open}.50000000`,
    '1.50000000',
    String((openTime + MINUTE_MS) * unit - 1),
    (open * 1.5).toFixed(8),
    String(10 + step),
    '0.75000000',
    (open * 0.75).toFixed(8),
    '0',
  ];
  return fields.join(',');
}

/** `count` consecutive rows from `startIso`, as the lines of a file (each ending in a newline). */
export function klineFile(startIso: string, count: number, options: RowOptions = {}): string {
  const start = Date.parse(startIso);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(klineRow(start + i * MINUTE_MS, i, options));
  return `${lines.join('\n')}\n`;
}
