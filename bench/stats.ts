/** Small helpers for benchmark figures: percentiles, printing, and Redis's own counters. */
import type { Redis } from 'ioredis';

export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  const index = Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)]!;
}

export function summarize(samplesMs: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
}

export const fmt = (value: number, digits = 2): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(58)} ${value}\n`);
}

/** A number from INFO `section`, e.g. ('memory', 'used_memory'). */
export async function infoNumber(redis: Redis, section: string, field: string): Promise<number> {
  const text = await redis.info(section);
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(text);
  if (!match) throw new Error(`INFO ${section} has no ${field}`);
  return Number(match[1]);
}

/**
 * Commands Redis has run so far (INFO total_commands_processed, a script's own commands included).
 * The INFO that reads it is counted from the next reading on, not in its own.
 */
export async function commandsProcessed(redis: Redis): Promise<number> {
  return infoNumber(redis, 'stats', 'total_commands_processed');
}

/** Calls per command name so far (INFO commandstats; a script's own commands included). */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** Calls of `name` between two commandstats readings. */
export const callsBetween = (before: Map<string, number>, after: Map<string, number>, name: string): number =>
  (after.get(name) ?? 0) - (before.get(name) ?? 0);

/**
 * The commands that ran per second between two commandstats readings, the busiest first, with
 * `digits` decimals: the benches' own INFO and rates that would print as zero left out.
 */
export function perCommand(
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
  digits = 1,
): string {
  const least = 0.5 * 10 ** -digits;
  return [...after.keys()]
    .filter((name) => name !== 'info')
    .map((name) => [name, callsBetween(before, after, name) / seconds] as const)
    .filter(([, rate]) => rate >= least)
    .sort((a, b) => b[1] - a[1])
    .map(([name, rate]) => `${name} ${fmt(rate, digits)}`)
    .join(', ');
}
