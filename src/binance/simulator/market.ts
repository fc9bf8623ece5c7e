/**
 * The simulated market: trades of every symbol as a pure function of (seed, symbol, minute)
 * (./trades.ts), the true 1m klines and longer spans derived from them, the forming kline at any
 * instant, 24 h rolling statistics, and halts.
 *
 * A halted minute has no trades and no kline at all: Binance does not produce klines while a symbol
 * is suspended (BINANCE.md 5, "the kline will not be generated until the trading is resumed").
 * Caches only save work; every answer equals a from-scratch computation, and two markets with the
 * same seed and halts give identical answers.
 */
import { HOUR_MS, MINUTE_MS } from '../../domain/intervals.js';
import { exchangeInfoBody, exchangeInfoSymbol, type ExchangeInfoBody } from './exchange-info.js';
import { buildTicker, type Ticker24h } from './stats.js';
import { createProfile, listSymbols, type SymbolProfile } from './symbols.js';
import {
  aggregateTrades,
  generateMinuteTrades,
  mergeAggs,
  quoteFactor,
  type Agg,
  type SimTrade,
} from './trades.js';
import { toSimKline, type SimKline } from './wire.js';

export interface MarketOptions {
  readonly seed?: number;
  /** Symbols to simulate (default DEFAULT_SYMBOLS); e.g. generatedSymbolNames(300) for stream-limit tests. */
  readonly symbols?: readonly string[];
  /** Also list UNIVERSE_EXTRA_SYMBOLS (stablecoin and fiat bases, ETHBTC, a BREAK pair). Default true. */
  readonly includeUniverseExtras?: boolean;
  /** Listing time, epoch ms: no trade and no kline before it. Default 0 (always listed). */
  readonly listedAt?: number;
}

export interface SimulatedMarket {
  readonly seed: number;
  /** Every listed symbol, upper case. */
  readonly symbols: readonly string[];
  readonly listedAt: number;
  profile(symbol: string): SymbolProfile | undefined;
  /** The trades of the minute opening at `openTime` (none when halted, not trading or not listed). */
  tradesOf(symbol: string, openTime: number): readonly SimTrade[];
  /** The whole 1m kline opening at `openTime`, whatever the time now; undefined for a halted minute. */
  trueKline(symbol: string, openTime: number): SimKline | undefined;
  /** The 1m kline forming at `time`: the trades of its minute up to and including `time`. */
  klineAt(symbol: string, time: number): SimKline | undefined;
  /** The kline of [openTime, openTime + lengthMs) as known at `time` (whole minutes; forming if open). */
  spanKline(symbol: string, openTime: number, lengthMs: number, time: number): SimKline | undefined;
  /** Rolling 24 h statistics at `time`: the forming minute plus the 1439 minutes before it. */
  ticker24h(symbol: string, time: number): Ticker24h;
  /** Halts every minute overlapping [fromMs, toMs): no trades, no kline (BINANCE.md 5). */
  halt(symbol: string, fromMs: number, toMs: number): void;
  isHalted(symbol: string, time: number): boolean;
  exchangeInfo(options?: { serverTime?: number; weightLimitPerMinute?: number }): ExchangeInfoBody;
}

/** Minutes in the 24 h rolling window (BINANCE.md 1.3: `!miniTicker@arr` is a 24 h rolling window). */
export const WINDOW_MINUTES = 1440;
/** Bounds the per-symbol caches (SPEC principle: nothing buffers without bound). */
const MAX_CACHED_MINUTES_PER_SYMBOL = 2_000;
const MAX_CACHED_HOURS_PER_SYMBOL = 200;
const MINUTES_PER_HOUR = HOUR_MS / MINUTE_MS;

interface Forming {
  readonly minute: number;
  readonly trades: readonly SimTrade[];
  included: number;
  agg: Agg | undefined;
}

interface SymbolState {
  readonly profile: SymbolProfile;
  readonly factor: bigint;
  /** Inclusive minute ranges. */
  readonly halts: { from: number; to: number }[];
  readonly minutes: Map<number, Agg | null>;
  readonly hours: Map<number, Agg | null>;
  forming: Forming | undefined;
  window: { minute: number; agg: Agg | undefined } | undefined;
}

function remember<V>(cache: Map<number, V>, key: number, value: V, max: number): V {
  if (cache.size >= max) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
  return value;
}

export function createMarket(options: MarketOptions = {}): SimulatedMarket {
  const seed = options.seed ?? 1;
  const listedAt = options.listedAt ?? 0;
  const firstMinute = Math.ceil(listedAt / MINUTE_MS);
  const names = listSymbols(options.symbols, options.includeUniverseExtras ?? true);
  const states = new Map<string, SymbolState>();
  for (const symbol of names) {
    const profile = createProfile(seed, symbol);
    states.set(symbol, {
      profile,
      factor: quoteFactor(profile),
      halts: [],
      minutes: new Map(),
      hours: new Map(),
      forming: undefined,
      window: undefined,
    });
  }

  const trades = (s: SymbolState, minute: number): readonly SimTrade[] => {
    if (s.profile.status !== 'TRADING' || minute < firstMinute) return [];
    if (s.halts.some((h) => minute >= h.from && minute <= h.to)) return [];
    return generateMinuteTrades(s.profile, minute);
  };

  const computeMinute = (s: SymbolState, minute: number): Agg | undefined =>
    s.minutes.get(minute) ?? aggregateTrades(trades(s, minute), s.factor);

  const minuteAgg = (s: SymbolState, minute: number): Agg | undefined => {
    const cached = s.minutes.get(minute);
    if (cached !== undefined) return cached ?? undefined;
    const agg = aggregateTrades(trades(s, minute), s.factor);
    return remember(s.minutes, minute, agg ?? null, MAX_CACHED_MINUTES_PER_SYMBOL) ?? undefined;
  };

  const hourAgg = (s: SymbolState, hour: number): Agg | undefined => {
    const cached = s.hours.get(hour);
    if (cached !== undefined) return cached ?? undefined;
    let agg: Agg | undefined;
    const start = hour * MINUTES_PER_HOUR;
    for (let m = start; m < start + MINUTES_PER_HOUR; m++) agg = mergeAggs(agg, computeMinute(s, m));
    return remember(s.hours, hour, agg ?? null, MAX_CACHED_HOURS_PER_SYMBOL) ?? undefined;
  };

  /** Minutes [from, to], inclusive, using whole-hour blocks where they fit. */
  const spanAgg = (s: SymbolState, from: number, to: number): Agg | undefined => {
    let agg: Agg | undefined;
    let m = Math.max(from, firstMinute);
    while (m <= to) {
      if (m % MINUTES_PER_HOUR === 0 && m + MINUTES_PER_HOUR - 1 <= to) {
        agg = mergeAggs(agg, hourAgg(s, m / MINUTES_PER_HOUR));
        m += MINUTES_PER_HOUR;
      } else {
        agg = mergeAggs(agg, minuteAgg(s, m));
        m++;
      }
    }
    return agg;
  };

  /** Trades of the minute of `time` up to `time`, extended incrementally as time moves forward. */
  const formingAgg = (s: SymbolState, time: number): Agg | undefined => {
    const minute = Math.floor(time / MINUTE_MS);
    let f = s.forming;
    const lastIncluded = f && f.included > 0 ? f.trades[f.included - 1]!.time : -Infinity;
    if (!f || f.minute !== minute || lastIncluded > time) {
      f = { minute, trades: trades(s, minute), included: 0, agg: undefined };
      s.forming = f;
    }
    let n = f.included;
    while (n < f.trades.length && f.trades[n]!.time <= time) n++;
    if (n > f.included) {
      f.agg = mergeAggs(f.agg, aggregateTrades(f.trades.slice(f.included, n), s.factor));
      f.included = n;
    }
    return f.agg;
  };

  /** The closed part of the 24 h window of minute `minute`: minutes [minute - 1439, minute - 1]. */
  const closedWindow = (s: SymbolState, minute: number): Agg | undefined => {
    if (s.window?.minute !== minute) {
      s.window = { minute, agg: spanAgg(s, minute - WINDOW_MINUTES + 1, minute - 1) };
    }
    return s.window.agg;
  };

  const state = (symbol: string): SymbolState | undefined => states.get(symbol);

  return {
    seed,
    symbols: names,
    listedAt,
    profile: (symbol) => state(symbol)?.profile,
    tradesOf(symbol, openTime) {
      const s = state(symbol);
      return s && openTime % MINUTE_MS === 0 ? trades(s, openTime / MINUTE_MS) : [];
    },
    trueKline(symbol, openTime) {
      const s = state(symbol);
      if (!s || openTime % MINUTE_MS !== 0) return undefined;
      const agg = minuteAgg(s, openTime / MINUTE_MS);
      return agg && toSimKline(s.profile, agg, openTime, MINUTE_MS);
    },
    klineAt(symbol, time) {
      const s = state(symbol);
      const agg = s && formingAgg(s, time);
      return agg && toSimKline(s.profile, agg, Math.floor(time / MINUTE_MS) * MINUTE_MS, MINUTE_MS);
    },
    spanKline(symbol, openTime, lengthMs, time) {
      const s = state(symbol);
      if (!s || openTime % MINUTE_MS !== 0 || lengthMs % MINUTE_MS !== 0) return undefined;
      const first = openTime / MINUTE_MS;
      const last = first + lengthMs / MINUTE_MS - 1;
      const current = Math.floor(time / MINUTE_MS);
      if (first > current) return undefined;
      const agg =
        current > last
          ? spanAgg(s, first, last)
          : mergeAggs(spanAgg(s, first, current - 1), formingAgg(s, time));
      return agg && toSimKline(s.profile, agg, openTime, lengthMs);
    },
    ticker24h(symbol, time) {
      const s = state(symbol);
      if (!s) throw new RangeError(`unknown symbol ${symbol}`);
      const minute = Math.floor(time / MINUTE_MS);
      const agg = mergeAggs(closedWindow(s, minute), formingAgg(s, time));
      const prevClose = minuteAgg(s, minute - WINDOW_MINUTES)?.close;
      return buildTicker(s.profile, agg, prevClose, (minute - WINDOW_MINUTES + 1) * MINUTE_MS, time);
    },
    halt(symbol, fromMs, toMs) {
      const s = state(symbol);
      if (!s) throw new RangeError(`unknown symbol ${symbol}`);
      if (!(toMs > fromMs)) throw new RangeError(`halt needs fromMs < toMs, got ${fromMs}..${toMs}`);
      const from = Math.floor(fromMs / MINUTE_MS);
      const to = Math.ceil(toMs / MINUTE_MS) - 1;
      s.halts.push({ from, to });
      for (const minute of [...s.minutes.keys()])
        if (minute >= from && minute <= to) s.minutes.delete(minute);
      s.hours.clear();
      s.window = undefined;
      s.forming = undefined;
    },
    isHalted(symbol, time) {
      const minute = Math.floor(time / MINUTE_MS);
      return state(symbol)?.halts.some((h) => minute >= h.from && minute <= h.to) ?? false;
    },
    exchangeInfo(opts = {}) {
      const symbols = [...states.values()].map((s) => exchangeInfoSymbol(s.profile));
      return exchangeInfoBody(symbols, opts.serverTime ?? Date.now(), opts.weightLimitPerMinute);
    },
  };
}
