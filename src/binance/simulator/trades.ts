/**
 * The simulated trades of one symbol-minute, and their aggregation into kline figures.
 *
 * A price random walk that needs no history: the mid price at any instant is a sum of value-noise
 * octaves (1 day down to 10 s), each interpolated between hashed lattice points, so the price of
 * minute m is computed without replaying minutes 0..m-1 and any minute can be asked for alone.
 * Trade ids stay contiguous across minutes: minute m holds `B + g(m+1) - g(m)` trades and its first
 * id is `m*B + g(m)` for a hashed `g` in [0, B), so the counts telescope (ids only skip over halts).
 * Everything is integer arithmetic; sums are bigint.
 */
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../domain/intervals.js';
import { hash3, hash4 } from './random.js';
import type { SymbolProfile } from './symbols.js';

export interface SimTrade {
  readonly id: number;
  /** Epoch ms. */
  readonly time: number;
  readonly priceTicks: number;
  readonly qtySteps: number;
  /** The taker bought (the buyer was not the maker). */
  readonly takerBuy: boolean;
}

/** Kline figures of a run of trades. Prices in ticks, volumes in lot steps, quote amounts in 1e-8 units. */
export interface Agg {
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: bigint;
  readonly quote: bigint;
  readonly takerVolume: bigint;
  readonly takerQuote: bigint;
  readonly trades: number;
  readonly firstId: number;
  readonly lastId: number;
  /** Quantity of the last trade, in lot steps (the 24 h ticker's `lastQty`). */
  readonly lastQty: number;
}

/** [period ms, amplitude in parts per million at volatility 1000]. */
const OCTAVES: readonly (readonly [number, number])[] = [
  [DAY_MS, 40_000],
  [4 * HOUR_MS, 20_000],
  [HOUR_MS, 8_000],
  [10 * MINUTE_MS, 3_000],
  [MINUTE_MS, 1_200],
  [10_000, 400],
];
const PPM = 1_000_000;
/** Spread of trade prices around the mid price, in ppm at volatility 1000. */
const JITTER_PPM = 150;
/** The first trade of a minute falls in its first second, so every kline update has a trade. */
const FIRST_TRADE_WINDOW_MS = 1_000;
const SALT_OCTAVE = 0x0c7a0000;
const SALT_COUNT = 0x434e54;
const SALT_OFFSET = 0x4f4646;
const SALT_TRADE = 0x545244;

function lattice(key: number, octave: number, index: number, amplitude: number): number {
  return (hash3(key, SALT_OCTAVE + octave, index) % (2 * amplitude + 1)) - amplitude;
}

/**
 * The mid price in ticks at any instant of minute `minute`: the base price moved by the octaves'
 * sum. Octaves of a minute or longer have the same lattice segment for the whole minute (their
 * periods are whole minutes), so their end points are hashed once per minute, not once per trade.
 */
export function midPriceOfMinute(profile: SymbolProfile, minute: number): (time: number) => number {
  const openTime = minute * MINUTE_MS;
  const segments = OCTAVES.map(([period, amplitudeAt1000], octave) => {
    const amplitude = Math.floor((amplitudeAt1000 * profile.volatilityPermille) / 1000);
    const perMinute = period >= MINUTE_MS;
    const index = Math.floor(openTime / period);
    return {
      octave,
      period,
      amplitude,
      perMinute,
      from: perMinute && amplitude > 0 ? lattice(profile.key, octave, index, amplitude) : 0,
      to: perMinute && amplitude > 0 ? lattice(profile.key, octave, index + 1, amplitude) : 0,
      index,
    };
  }).filter((segment) => segment.amplitude > 0);
  return (time) => {
    let ppm = 0;
    for (const segment of segments) {
      const { period, amplitude, octave } = segment;
      let { from, to, index } = segment;
      if (!segment.perMinute) {
        index = Math.floor(time / period);
        from = lattice(profile.key, octave, index, amplitude);
        to = lattice(profile.key, octave, index + 1, amplitude);
      }
      ppm += from + Math.trunc(((to - from) * (time - index * period)) / period);
    }
    return Math.max(1, Math.floor((profile.basePriceTicks * (PPM + ppm)) / PPM));
  };
}

function countShift(profile: SymbolProfile, minute: number): number {
  return hash3(profile.key, SALT_COUNT, minute) % profile.tradesPerMinute;
}

/** The trades of minute `minute` (= openTime / 60000), ascending by time and id. */
export function generateMinuteTrades(profile: SymbolProfile, minute: number): SimTrade[] {
  const base = profile.tradesPerMinute;
  const shift = countShift(profile, minute);
  const count = base + countShift(profile, minute + 1) - shift;
  const openTime = minute * MINUTE_MS;
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    const h = hash4(profile.key, SALT_OFFSET, minute, i);
    offsets.push(i === 0 ? h % FIRST_TRADE_WINDOW_MS : h % MINUTE_MS);
  }
  offsets.sort((a, b) => a - b);
  const firstId = minute * base + shift;
  const jitterPpm = Math.max(1, Math.floor((JITTER_PPM * profile.volatilityPermille) / 1000));
  const midPrice = midPriceOfMinute(profile, minute);
  return offsets.map((offset, i) => {
    const time = openTime + offset;
    const mid = midPrice(time);
    const jitter = Math.max(1, Math.floor((mid * jitterPpm) / PPM));
    const h1 = hash4(profile.key, SALT_TRADE, minute, i * 4);
    const h2 = hash4(profile.key, SALT_TRADE, minute, i * 4 + 1);
    const h3 = hash4(profile.key, SALT_TRADE, minute, i * 4 + 2);
    const small = h2 % 1000;
    // Mostly near the typical size, with a tail up to ~5x: 0.1x + U(0..1)x + U²(0..4)x.
    const sizePermille = 100 + (h1 % 1000) + Math.floor((small * small) / 250);
    return {
      id: firstId + i,
      time,
      priceTicks: Math.max(1, mid + (h3 % (2 * jitter + 1)) - jitter),
      qtySteps: Math.max(1, Math.floor((profile.typicalQtySteps * sizePermille) / 1000)),
      takerBuy: (h3 & 0x10000) !== 0,
    };
  });
}

/** 10^(8 - tickDecimals - stepDecimals): turns ticks x steps into 1e-8 quote units. */
export function quoteFactor(profile: SymbolProfile): bigint {
  return 10n ** BigInt(8 - profile.tickDecimals - profile.stepDecimals);
}

/** Aggregates the first `count` trades (all by default); undefined when there are none. */
export function aggregateTrades(
  trades: readonly SimTrade[],
  factor: bigint,
  count = trades.length,
): Agg | undefined {
  const first = trades[0];
  if (!first || count === 0) return undefined;
  let high = first.priceTicks;
  let low = first.priceTicks;
  let volume = 0n;
  let quote = 0n;
  let takerVolume = 0n;
  let takerQuote = 0n;
  for (let i = 0; i < count; i++) {
    const trade = trades[i]!;
    if (trade.priceTicks > high) high = trade.priceTicks;
    if (trade.priceTicks < low) low = trade.priceTicks;
    const qty = BigInt(trade.qtySteps);
    const amount = BigInt(trade.priceTicks) * qty * factor;
    volume += qty;
    quote += amount;
    if (trade.takerBuy) {
      takerVolume += qty;
      takerQuote += amount;
    }
  }
  const last = trades[count - 1]!;
  return {
    open: first.priceTicks,
    high,
    low,
    close: last.priceTicks,
    volume,
    quote,
    takerVolume,
    takerQuote,
    trades: count,
    firstId: first.id,
    lastId: last.id,
    lastQty: last.qtySteps,
  };
}

/** `a` followed by `b` (either may be missing). */
export function mergeAggs(a: Agg | undefined, b: Agg | undefined): Agg | undefined {
  if (!a) return b;
  if (!b) return a;
  return {
    open: a.open,
    high: Math.max(a.high, b.high),
    low: Math.min(a.low, b.low),
    close: b.close,
    volume: a.volume + b.volume,
    quote: a.quote + b.quote,
    takerVolume: a.takerVolume + b.takerVolume,
    takerQuote: a.takerQuote + b.takerQuote,
    trades: a.trades + b.trades,
    firstId: a.firstId,
    lastId: b.lastId,
    lastQty: b.lastQty,
  };
}
