/**
 * 24 h rolling statistics as `GET /api/v3/ticker/24hr` (BINANCE.md 3.5) and `!miniTicker@arr`
 * (BINANCE.md 1.6) report them, from the aggregate of the window's trades.
 */
import type { WireMiniTicker } from '../wire.js';
import { hash3 } from './random.js';
import type { SymbolProfile } from './symbols.js';
import type { Agg } from './trades.js';
import { formatUnits8, priceText, qtyText, stepsToUnits8, ticksToUnits8, WIRE_DECIMALS } from './wire.js';

export interface Ticker24h {
  readonly symbol: string;
  readonly priceChange: string;
  /** Percent with 3 decimals, as Binance writes it ("-95.960"). */
  readonly priceChangePercent: string;
  readonly weightedAvgPrice: string;
  readonly prevClosePrice: string;
  readonly lastPrice: string;
  readonly lastQty: string;
  readonly bidPrice: string;
  readonly bidQty: string;
  readonly askPrice: string;
  readonly askQty: string;
  readonly openPrice: string;
  readonly highPrice: string;
  readonly lowPrice: string;
  readonly volume: string;
  readonly quoteVolume: string;
  readonly openTime: number;
  readonly closeTime: number;
  /** -1 when nothing traded in the window. */
  readonly firstId: number;
  readonly lastId: number;
  readonly count: number;
}

const ZERO_TEXT = formatUnits8(0n);
const SALT_BOOK = 0x424f4f4b;
const UNITS_PER_WHOLE = 10n ** BigInt(WIRE_DECIMALS);

/** `numerator / denominator` rounded half away from zero. */
function roundedDiv(numerator: bigint, denominator: bigint): bigint {
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const q = (2n * n + d) / (2n * d);
  return negative ? -q : q;
}

/** Thousandths of a percent as text with 3 decimals: -95960n → "-95.960". */
function percentText(milli: bigint): string {
  const negative = milli < 0n;
  const abs = negative ? -milli : milli;
  return `${negative ? '-' : ''}${abs / 1000n}.${(abs % 1000n).toString().padStart(3, '0')}`;
}

/**
 * The ticker of a window [openTime, closeTime]: `agg` holds its trades (undefined when none),
 * `prevCloseTicks` the last price before it.
 */
export function buildTicker(
  profile: SymbolProfile,
  agg: Agg | undefined,
  prevCloseTicks: number | undefined,
  openTime: number,
  closeTime: number,
): Ticker24h {
  const prevClosePrice = prevCloseTicks === undefined ? ZERO_TEXT : priceText(profile, prevCloseTicks);
  if (!agg) {
    return {
      symbol: profile.symbol,
      priceChange: ZERO_TEXT,
      priceChangePercent: '0.000',
      weightedAvgPrice: ZERO_TEXT,
      prevClosePrice,
      lastPrice: ZERO_TEXT,
      lastQty: ZERO_TEXT,
      bidPrice: ZERO_TEXT,
      bidQty: ZERO_TEXT,
      askPrice: ZERO_TEXT,
      askQty: ZERO_TEXT,
      openPrice: ZERO_TEXT,
      highPrice: ZERO_TEXT,
      lowPrice: ZERO_TEXT,
      volume: ZERO_TEXT,
      quoteVolume: ZERO_TEXT,
      openTime,
      closeTime,
      firstId: -1,
      lastId: -1,
      count: 0,
    };
  }
  const change = BigInt(agg.close - agg.open);
  const volumeUnits = stepsToUnits8(profile, agg.volume);
  const weighted = volumeUnits === 0n ? 0n : (agg.quote * UNITS_PER_WHOLE) / volumeUnits;
  // The book is not simulated: one tick either side of the last price, with a hashed size.
  const bookQty =
    profile.typicalQtySteps * (1 + (hash3(profile.key, SALT_BOOK, Math.floor(closeTime / 1000)) % 20));
  return {
    symbol: profile.symbol,
    priceChange: formatUnits8(ticksToUnits8(profile, change)),
    priceChangePercent: percentText(roundedDiv(change * 100_000n, BigInt(agg.open))),
    weightedAvgPrice: formatUnits8(weighted),
    prevClosePrice,
    lastPrice: priceText(profile, agg.close),
    lastQty: qtyText(profile, agg.lastQty),
    bidPrice: priceText(profile, Math.max(1, agg.close - 1)),
    bidQty: qtyText(profile, bookQty),
    askPrice: priceText(profile, agg.close),
    askQty: qtyText(profile, bookQty),
    openPrice: priceText(profile, agg.open),
    highPrice: priceText(profile, agg.high),
    lowPrice: priceText(profile, agg.low),
    volume: qtyText(profile, agg.volume),
    quoteVolume: formatUnits8(agg.quote),
    openTime,
    closeTime,
    firstId: agg.firstId,
    lastId: agg.lastId,
    count: agg.trades,
  };
}

/** `type=MINI` keeps only these fields (BINANCE.md 3.5). */
const MINI_FIELDS = [
  'symbol',
  'openPrice',
  'highPrice',
  'lowPrice',
  'lastPrice',
  'volume',
  'quoteVolume',
  'openTime',
  'closeTime',
  'firstId',
  'lastId',
  'count',
] as const;

export function tickerBody(ticker: Ticker24h, type: 'FULL' | 'MINI'): Partial<Ticker24h> {
  if (type === 'FULL') return ticker;
  return Object.fromEntries(MINI_FIELDS.map((field) => [field, ticker[field]]));
}

/** One element of `!miniTicker@arr` (BINANCE.md 1.6): the service's own wire type. */
export type MiniTickerEvent = WireMiniTicker;

export function miniTickerEvent(ticker: Ticker24h, eventTime: number): MiniTickerEvent {
  return {
    e: '24hrMiniTicker',
    E: eventTime,
    s: ticker.symbol,
    c: ticker.lastPrice,
    o: ticker.openPrice,
    h: ticker.highPrice,
    l: ticker.lowPrice,
    v: ticker.volume,
    q: ticker.quoteVolume,
  };
}
