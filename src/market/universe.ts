/**
 * Which symbols are tracked (SPEC section 3): `SYMBOLS` when set, else the symbols already stored,
 * else the top `TRACK_TOP` TRADING spot pairs quoted in USDT by 24 h quote volume, leaving out
 * stablecoin and fiat base assets (their USDT price is ~1 or an exchange rate, not a market).
 *
 * Symbols an import or a backfill stored are inactive and choose no universe: until one was chosen
 * (UNIVERSE_CHOSEN_SETTING, or an active symbol stored), the first start takes SYMBOLS or the
 * TRACK_TOP rule and activates its symbols even when already stored. After that a stored symbol's
 * activation is the admin's: a restart or a take-over keeps it.
 */
import { compareDecimal, parseDecimal } from '../domain/decimal.js';
import type { NewSymbol } from '../domain/symbol.js';
import type { Store } from '../ports/store.js';

/**
 * Settings key written once the tracked universe was chosen (by the TRACK_TOP rule, or found among
 * the stored symbols): later starts keep the stored symbols as they are, all deactivated included.
 */
export const UNIVERSE_CHOSEN_SETTING = 'universe:chosen';

/** Activates those of `names` that are stored inactive; returns them. */
export async function activateStored(
  store: Pick<Store, 'getSymbol' | 'setSymbolActive'>,
  names: readonly string[],
): Promise<string[]> {
  const activated: string[] = [];
  for (const name of names) {
    const stored = await store.getSymbol(name);
    if (!stored || stored.isActive) continue;
    await store.setSymbolActive(name, true);
    activated.push(name);
  }
  return activated;
}

/** Base assets that are stablecoins, fiat currencies or fiat-pegged tokens listed against USDT. */
export const EXCLUDED_BASE_ASSETS: ReadonlySet<string> = new Set([
  'USDC',
  'FDUSD',
  'TUSD',
  'BUSD',
  'USDP',
  'DAI',
  'USD1',
  'USDE',
  'BFUSD',
  'XUSD',
  'RLUSD',
  'PYUSD',
  'USDS',
  'AEUR',
  'EURI',
  'EUR',
  'GBP',
  'TRY',
  'BRL',
  'AUD',
  'ARS',
  'JPY',
  'MXN',
  'PLN',
  'RON',
  'UAH',
  'ZAR',
  'COP',
  'CZK',
  'IDRT',
  'BIDR',
  'BVND',
  'NGN',
  'RUB',
]);

export const QUOTE_ASSET = 'USDT';
export const TRADING_STATUS = 'TRADING';

export interface ExchangeSymbol {
  readonly symbol: string;
  readonly status: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly isSpotTradingAllowed: boolean;
}

export interface Ticker24hVolume {
  readonly symbol: string;
  /** Canonical decimal text. */
  readonly quoteVolume: string;
}

/** The top `count` eligible pairs by 24 h quote volume, as symbols to store (active). */
export function selectTopSymbols(
  exchangeSymbols: readonly ExchangeSymbol[],
  tickers: readonly Ticker24hVolume[],
  count: number,
): NewSymbol[] {
  const volumes = new Map(tickers.map((ticker) => [ticker.symbol, parseDecimal(ticker.quoteVolume)]));
  const zero = parseDecimal('0');
  return exchangeSymbols
    .filter(
      (s) =>
        s.status === TRADING_STATUS &&
        s.isSpotTradingAllowed &&
        // The quoteAsset field, not a "USDT" suffix: Unicode symbol names exist (BINANCE.md 3.4).
        s.quoteAsset === QUOTE_ASSET &&
        !EXCLUDED_BASE_ASSETS.has(s.baseAsset),
    )
    .map((s) => ({ s, volume: volumes.get(s.symbol) ?? zero }))
    .sort((a, b) => compareDecimal(b.volume, a.volume) || a.s.symbol.localeCompare(b.s.symbol))
    .slice(0, count)
    .map(({ s }) => ({
      symbol: s.symbol,
      baseAsset: s.baseAsset,
      quoteAsset: s.quoteAsset,
      status: s.status,
      isActive: true,
    }));
}
