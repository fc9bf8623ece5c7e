/**
 * A deterministic synthetic market: trades generated from a seed, the 1m klines Binance would build
 * from them, and (independently) the true candle of any span computed straight from the trades.
 * Tests compare aggregation of the 1m candles against that truth; no ../shared fixture is needed.
 */
import type { Candle, StoredCandle } from '../../src/domain/candle.js';
import { formatDecimal } from '../../src/domain/decimal.js';
import { MINUTE_MS } from '../../src/domain/intervals.js';
import { createRng } from '../../src/binance/simulator/random.js';

interface Trade {
  time: number;
  /** Price in units of 10^-PRICE_SCALE. */
  price: bigint;
  /** Quantity in units of 10^-QTY_SCALE. */
  qty: bigint;
  takerBuy: boolean;
}

const PRICE_SCALE = 2;
const QTY_SCALE = 5;

export interface SyntheticMarketOptions {
  readonly symbol?: string;
  readonly seed?: number;
  /** First minute, epoch ms (aligned to the minute). */
  readonly start: number;
  readonly minutes: number;
  /** Minutes (offsets from start) in which the exchange produced nothing: a halt. */
  readonly haltedMinutes?: ReadonlySet<number>;
  readonly tradesPerMinute?: number;
}

export interface SyntheticMarket {
  readonly symbol: string;
  readonly candles1m: StoredCandle[];
  /** The true candle of [openTime, closeTime] computed from the trades, or undefined when none traded. */
  truth(openTime: number, closeTime: number, interval: string): Candle | undefined;
}

const text = (units: bigint, scale: number): string => formatDecimal({ units, scale });

function candleOf(
  symbol: string,
  interval: string,
  openTime: number,
  closeTime: number,
  trades: readonly Trade[],
): Candle {
  let high = trades[0]!.price;
  let low = high;
  let volume = 0n;
  let quote = 0n;
  let takerVolume = 0n;
  let takerQuote = 0n;
  for (const trade of trades) {
    if (trade.price > high) high = trade.price;
    if (trade.price < low) low = trade.price;
    volume += trade.qty;
    quote += trade.price * trade.qty;
    if (trade.takerBuy) {
      takerVolume += trade.qty;
      takerQuote += trade.price * trade.qty;
    }
  }
  return {
    symbol,
    interval,
    openTime,
    closeTime,
    open: text(trades[0]!.price, PRICE_SCALE),
    high: text(high, PRICE_SCALE),
    low: text(low, PRICE_SCALE),
    close: text(trades.at(-1)!.price, PRICE_SCALE),
    volume: text(volume, QTY_SCALE),
    quoteVolume: text(quote, PRICE_SCALE + QTY_SCALE),
    trades: trades.length,
    takerBuyVolume: text(takerVolume, QTY_SCALE),
    takerBuyQuoteVolume: text(takerQuote, PRICE_SCALE + QTY_SCALE),
    closed: true,
  };
}

export function createSyntheticMarket(options: SyntheticMarketOptions): SyntheticMarket {
  const symbol = options.symbol ?? 'SYNUSDT';
  const next = createRng(options.seed ?? 42);
  const perMinute = options.tradesPerMinute ?? 4;
  const trades: Trade[] = [];
  const candles1m: StoredCandle[] = [];
  let price = 6_300_000n; // 63000.00
  for (let minute = 0; minute < options.minutes; minute++) {
    const openTime = options.start + minute * MINUTE_MS;
    if (options.haltedMinutes?.has(minute)) continue;
    const count = 1 + Math.floor(next() * perMinute);
    const minuteTrades: Trade[] = [];
    for (let i = 0; i < count; i++) {
      price += BigInt(Math.round((next() - 0.5) * 2000));
      if (price < 100n) price = 100n;
      minuteTrades.push({
        time: openTime + Math.floor((i * MINUTE_MS) / count),
        price,
        qty: BigInt(1 + Math.floor(next() * 200_000)),
        takerBuy: next() < 0.5,
      });
    }
    trades.push(...minuteTrades);
    const candle = candleOf(symbol, '1m', openTime, openTime + MINUTE_MS - 1, minuteTrades);
    candles1m.push({ ...candle, eventTime: openTime + MINUTE_MS });
  }
  return {
    symbol,
    candles1m,
    truth(openTime, closeTime, interval) {
      const inside = trades.filter((trade) => trade.time >= openTime && trade.time <= closeTime);
      return inside.length === 0 ? undefined : candleOf(symbol, interval, openTime, closeTime, inside);
    },
  };
}
