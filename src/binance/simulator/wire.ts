/**
 * The simulator's market figures written the way Binance writes them: 8-decimal strings such as
 * "0.01634790" (BINANCE.md 3.2, fixtures klines_rest.json), 12-field REST rows, `kline` and
 * `24hrMiniTicker` stream payloads in the documented key order (BINANCE.md 1.5, 1.6).
 */
import type { Candle } from '../../domain/candle.js';
import { canonicalDecimal } from '../../domain/decimal.js';
import type { SymbolProfile } from './symbols.js';
import type { Agg } from './trades.js';

/** Binance writes prices and quantities with this many decimals. */
export const WIRE_DECIMALS = 8;
const SCALE = 10n ** BigInt(WIRE_DECIMALS);

/** `units` of 1e-8 as Binance text: 163479n → "0.00163479". */
export function formatUnits8(units: bigint): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const whole = abs / SCALE;
  const fraction = (abs % SCALE).toString().padStart(WIRE_DECIMALS, '0');
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

export function ticksToUnits8(profile: SymbolProfile, ticks: number | bigint): bigint {
  return BigInt(ticks) * 10n ** BigInt(WIRE_DECIMALS - profile.tickDecimals);
}

export function stepsToUnits8(profile: SymbolProfile, steps: number | bigint): bigint {
  return BigInt(steps) * 10n ** BigInt(WIRE_DECIMALS - profile.stepDecimals);
}

export const priceText = (profile: SymbolProfile, ticks: number | bigint): string =>
  formatUnits8(ticksToUnits8(profile, ticks));
export const qtyText = (profile: SymbolProfile, steps: number | bigint): string =>
  formatUnits8(stepsToUnits8(profile, steps));

/** One kline as Binance reports it: every decimal an 8-decimal string, times in epoch ms. */
export interface SimKline {
  readonly symbol: string;
  readonly openTime: number;
  /** openTime + interval - 1 (BINANCE.md 1.5). */
  readonly closeTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  readonly volume: string;
  readonly quoteVolume: string;
  readonly trades: number;
  readonly takerBuyVolume: string;
  readonly takerBuyQuoteVolume: string;
  readonly firstTradeId: number;
  readonly lastTradeId: number;
}

export function toSimKline(profile: SymbolProfile, agg: Agg, openTime: number, lengthMs: number): SimKline {
  return {
    symbol: profile.symbol,
    openTime,
    closeTime: openTime + lengthMs - 1,
    open: priceText(profile, agg.open),
    high: priceText(profile, agg.high),
    low: priceText(profile, agg.low),
    close: priceText(profile, agg.close),
    volume: qtyText(profile, agg.volume),
    quoteVolume: formatUnits8(agg.quote),
    trades: agg.trades,
    takerBuyVolume: qtyText(profile, agg.takerVolume),
    takerBuyQuoteVolume: formatUnits8(agg.takerQuote),
    firstTradeId: agg.firstId,
    lastTradeId: agg.lastId,
  };
}

/** A REST kline row (BINANCE.md 3.2): [t, o, h, l, c, v, T, q, n, V, Q, "0"]. */
export type KlineRow = [
  number,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  number,
  string,
  string,
  string,
];

export function toKlineRow(k: SimKline): KlineRow {
  return [
    k.openTime,
    k.open,
    k.high,
    k.low,
    k.close,
    k.volume,
    k.closeTime,
    k.quoteVolume,
    k.trades,
    k.takerBuyVolume,
    k.takerBuyQuoteVolume,
    '0',
  ];
}

/** The `data` of a `<symbol>@kline_1m` event (BINANCE.md 1.5), as JSON text. */
export function klineEventJson(k: SimKline, eventTime: number, closed: boolean): string {
  return JSON.stringify({
    e: 'kline',
    E: eventTime,
    s: k.symbol,
    k: {
      t: k.openTime,
      T: k.closeTime,
      s: k.symbol,
      i: '1m',
      f: k.firstTradeId,
      L: k.lastTradeId,
      o: k.open,
      c: k.close,
      h: k.high,
      l: k.low,
      v: k.volume,
      n: k.trades,
      x: closed,
      q: k.quoteVolume,
      V: k.takerBuyVolume,
      Q: k.takerBuyQuoteVolume,
      B: '0',
    },
  });
}

/** A combined-stream frame (BINANCE.md 1.2) around already serialized `data`. */
export function combinedFrame(stream: string, dataJson: string): string {
  return `{"stream":${JSON.stringify(stream)},"data":${dataJson}}`;
}

/** The service's view of a kline (domain Candle, canonical decimals), for comparing stored candles. */
export function toCandle(k: SimKline, closed = true): Candle {
  return {
    symbol: k.symbol,
    interval: '1m',
    openTime: k.openTime,
    closeTime: k.closeTime,
    open: canonicalDecimal(k.open),
    high: canonicalDecimal(k.high),
    low: canonicalDecimal(k.low),
    close: canonicalDecimal(k.close),
    volume: canonicalDecimal(k.volume),
    quoteVolume: canonicalDecimal(k.quoteVolume),
    trades: k.trades,
    takerBuyVolume: canonicalDecimal(k.takerBuyVolume),
    takerBuyQuoteVolume: canonicalDecimal(k.takerBuyQuoteVolume),
    closed,
  };
}
