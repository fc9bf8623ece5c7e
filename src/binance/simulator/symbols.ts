/**
 * The simulated exchange's listing: which symbols exist, their trading status, tick and lot sizes,
 * and the shape of each one's market (price level, volatility, activity).
 *
 * Every price is an integer number of ticks and every quantity an integer number of lot steps, with
 * `tickDecimals + stepDecimals <= 8`, so a trade's quote amount (price x quantity) is exact at
 * Binance's 8 decimals (BINANCE.md 3.2 rows carry 8-decimal strings).
 */
import { hash3, hashString } from './random.js';

export type SimSymbolStatus = 'TRADING' | 'BREAK';

export interface SymbolProfile {
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly status: SimSymbolStatus;
  readonly tickDecimals: number;
  readonly stepDecimals: number;
  /** Centre of the price walk, in ticks. */
  readonly basePriceTicks: number;
  /** Scales the walk's amplitude: 1000 is a major coin, 20 a stablecoin. */
  readonly volatilityPermille: number;
  /** Mean trades per minute; a minute holds between 1 and 2x-1 of them. */
  readonly tradesPerMinute: number;
  /** Typical trade size in lot steps. */
  readonly typicalQtySteps: number;
  readonly isMarginTradingAllowed: boolean;
  /** hash(seed, symbol): the root of every random choice for this symbol. */
  readonly key: number;
}

/** The default market: a handful of majors, as the service would track them. */
export const DEFAULT_SYMBOLS: readonly string[] = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT'];

/**
 * Listed next to the requested symbols so universe selection can be tested (SPEC section 3,
 * TRACK_TOP): stablecoin and fiat bases with large volume, a non-USDT quote, and a USDT pair in
 * BREAK (BINANCE.md 3.4) that never trades.
 */
export const UNIVERSE_EXTRA_SYMBOLS: readonly string[] = [
  'USDCUSDT',
  'FDUSDUSDT',
  'EURUSDT',
  'ETHBTC',
  'PAUSEDUSDT',
];

const BREAK_SYMBOLS: ReadonlySet<string> = new Set(['PAUSEDUSDT']);

interface Preset {
  readonly price: number;
  readonly tickDecimals: number;
  readonly stepDecimals: number;
  readonly volatilityPermille: number;
  readonly tradesPerMinute: number;
  readonly typicalQty: number;
  readonly margin: boolean;
}

const PRESETS: Readonly<Record<string, Preset>> = {
  BTCUSDT: preset(64_000, 2, 5, 1000, 40, 0.02, true),
  ETHUSDT: preset(3_200, 2, 4, 1200, 35, 0.5, true),
  BNBUSDT: preset(580, 2, 3, 1000, 20, 2, true),
  SOLUSDT: preset(150, 2, 3, 1500, 25, 10, true),
  XRPUSDT: preset(0.52, 4, 1, 1300, 20, 2000, true),
  USDCUSDT: preset(1, 4, 0, 20, 30, 50_000, true),
  FDUSDUSDT: preset(1, 4, 0, 20, 30, 30_000, false),
  EURUSDT: preset(1.08, 4, 1, 60, 10, 5_000, false),
  ETHBTC: preset(0.05, 5, 3, 800, 10, 1, true),
  PAUSEDUSDT: preset(2.5, 4, 1, 1000, 1, 100, false),
};

function preset(
  price: number,
  tickDecimals: number,
  stepDecimals: number,
  volatilityPermille: number,
  tradesPerMinute: number,
  typicalQty: number,
  margin: boolean,
): Preset {
  return { price, tickDecimals, stepDecimals, volatilityPermille, tradesPerMinute, typicalQty, margin };
}

/** Quote assets recognised at the end of a symbol name, longest first. */
const QUOTE_ASSETS = ['FDUSD', 'USDT', 'USDC', 'BTC', 'ETH', 'BNB', 'EUR', 'TRY'] as const;
/** Binance's `symbol` parameter pattern (upper case letters, digits, `-_.`; up to 20 characters). */
export const SYMBOL_NAME_PATTERN = /^[A-Z0-9\-_.]{1,20}$/;

/** `SIM001USDT`, `SIM002USDT`, …: many symbols for tests that need more than 1024 streams. */
export function generatedSymbolNames(count: number): string[] {
  const width = Math.max(3, String(count).length);
  return Array.from({ length: count }, (_, i) => `SIM${String(i + 1).padStart(width, '0')}USDT`);
}

export function splitSymbolName(symbol: string): { baseAsset: string; quoteAsset: string } {
  const quote = QUOTE_ASSETS.find((q) => symbol.endsWith(q) && symbol.length > q.length) ?? 'USDT';
  return { baseAsset: symbol.endsWith(quote) ? symbol.slice(0, -quote.length) : symbol, quoteAsset: quote };
}

const SALT_PRICE = 0x5052;
const SALT_MANTISSA = 0x4d41;
const SALT_ACTIVITY = 0x4143;
const SALT_VOLATILITY = 0x564f;
/** Typical trade notional of a generated symbol, in quote units. */
const GENERATED_TYPICAL_NOTIONAL = 800;

/** A symbol without a preset gets a price level, tick and lot size from its name's hash. */
function generatedPreset(key: number): Preset {
  const exponent = (hash3(key, SALT_PRICE, 0) % 6) - 2; // prices from 0.01 to 9999
  const mantissa = 1000 + (hash3(key, SALT_MANTISSA, 0) % 9000);
  const price = (mantissa / 1000) * 10 ** exponent;
  const tickDecimals = Math.min(8, Math.max(0, 4 - exponent)); // five significant digits
  const stepDecimals = Math.min(8 - tickDecimals, Math.max(0, exponent + 2));
  return preset(
    price,
    tickDecimals,
    stepDecimals,
    600 + (hash3(key, SALT_VOLATILITY, 0) % 1400),
    2 + (hash3(key, SALT_ACTIVITY, 0) % 9),
    GENERATED_TYPICAL_NOTIONAL / price,
    false,
  );
}

export function createProfile(seed: number, symbol: string): SymbolProfile {
  if (!SYMBOL_NAME_PATTERN.test(symbol)) throw new RangeError(`not a Binance symbol name: "${symbol}"`);
  const key = hash3(seed, hashString(symbol), 0x53594d);
  const p = PRESETS[symbol] ?? generatedPreset(key);
  const { baseAsset, quoteAsset } = splitSymbolName(symbol);
  return {
    symbol,
    baseAsset,
    quoteAsset,
    status: BREAK_SYMBOLS.has(symbol) ? 'BREAK' : 'TRADING',
    tickDecimals: p.tickDecimals,
    stepDecimals: p.stepDecimals,
    basePriceTicks: Math.max(1, Math.round(p.price * 10 ** p.tickDecimals)),
    volatilityPermille: p.volatilityPermille,
    tradesPerMinute: p.tradesPerMinute,
    typicalQtySteps: Math.max(1, Math.round(p.typicalQty * 10 ** p.stepDecimals)),
    isMarginTradingAllowed: p.margin,
    key,
  };
}

/** The symbols of a market: the requested ones (default DEFAULT_SYMBOLS) plus the universe extras. */
export function listSymbols(symbols: readonly string[] | undefined, includeExtras: boolean): string[] {
  const names = [...(symbols ?? DEFAULT_SYMBOLS), ...(includeExtras ? UNIVERSE_EXTRA_SYMBOLS : [])];
  return [...new Set(names)];
}
