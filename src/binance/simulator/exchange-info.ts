/**
 * `GET /api/v3/exchangeInfo` bodies (BINANCE.md 3.4, fixture exchangeInfo_excerpt.json): the
 * listing with status, assets, precisions, permission sets and the PRICE_FILTER / LOT_SIZE filters.
 */
import type { SymbolProfile } from './symbols.js';
import { formatUnits8 } from './wire.js';

/** Binance's request-weight budget per IP (BINANCE.md 3.8). */
export const DEFAULT_WEIGHT_LIMIT_PER_MINUTE = 6000;
/** RAW_REQUESTS per 5 minutes since [CL 2026-03-27] (BINANCE.md 3.8). */
const RAW_REQUESTS_PER_5_MINUTES = 300_000;
const ORDER_TYPES = [
  'LIMIT',
  'LIMIT_MAKER',
  'MARKET',
  'STOP_LOSS',
  'STOP_LOSS_LIMIT',
  'TAKE_PROFIT',
  'TAKE_PROFIT_LIMIT',
];

export interface ExchangeInfoFilter {
  readonly filterType: 'PRICE_FILTER' | 'LOT_SIZE';
  readonly [field: string]: string;
}

export interface ExchangeInfoSymbol {
  readonly symbol: string;
  readonly status: string;
  readonly baseAsset: string;
  readonly baseAssetPrecision: number;
  readonly quoteAsset: string;
  readonly quotePrecision: number;
  readonly quoteAssetPrecision: number;
  readonly baseCommissionPrecision: number;
  readonly quoteCommissionPrecision: number;
  readonly orderTypes: readonly string[];
  readonly icebergAllowed: boolean;
  readonly ocoAllowed: boolean;
  readonly otoAllowed: boolean;
  readonly quoteOrderQtyMarketAllowed: boolean;
  readonly allowTrailingStop: boolean;
  readonly cancelReplaceAllowed: boolean;
  readonly isSpotTradingAllowed: boolean;
  readonly isMarginTradingAllowed: boolean;
  readonly filters: readonly ExchangeInfoFilter[];
  readonly permissions: readonly string[];
  readonly permissionSets: readonly (readonly string[])[];
  readonly defaultSelfTradePreventionMode: string;
  readonly allowedSelfTradePreventionModes: readonly string[];
}

export interface RateLimit {
  readonly rateLimitType: 'REQUEST_WEIGHT' | 'ORDERS' | 'RAW_REQUESTS';
  readonly interval: 'SECOND' | 'MINUTE';
  readonly intervalNum: number;
  readonly limit: number;
}

export interface ExchangeInfoBody {
  readonly timezone: 'UTC';
  readonly serverTime: number;
  readonly rateLimits: readonly RateLimit[];
  readonly exchangeFilters: readonly never[];
  readonly symbols: readonly ExchangeInfoSymbol[];
}

/** The permissions a symbol holds: every one is SPOT; majors are also MARGIN. */
export function permissionsOf(profile: SymbolProfile): string[] {
  return profile.isMarginTradingAllowed ? ['SPOT', 'MARGIN'] : ['SPOT'];
}

export function exchangeInfoSymbol(profile: SymbolProfile, showPermissionSets = true): ExchangeInfoSymbol {
  const tick = formatUnits8(10n ** BigInt(8 - profile.tickDecimals));
  const step = formatUnits8(10n ** BigInt(8 - profile.stepDecimals));
  const trading = profile.status === 'TRADING';
  return {
    symbol: profile.symbol,
    status: profile.status,
    baseAsset: profile.baseAsset,
    baseAssetPrecision: 8,
    quoteAsset: profile.quoteAsset,
    quotePrecision: 8,
    quoteAssetPrecision: 8,
    baseCommissionPrecision: 8,
    quoteCommissionPrecision: 8,
    orderTypes: ORDER_TYPES,
    icebergAllowed: true,
    ocoAllowed: true,
    otoAllowed: true,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: true,
    cancelReplaceAllowed: true,
    isSpotTradingAllowed: trading,
    isMarginTradingAllowed: trading && profile.isMarginTradingAllowed,
    filters: [
      { filterType: 'PRICE_FILTER', minPrice: tick, maxPrice: formatUnits8(10n ** 14n), tickSize: tick },
      { filterType: 'LOT_SIZE', minQty: step, maxQty: formatUnits8(9_000_000n * 10n ** 8n), stepSize: step },
    ],
    permissions: [],
    permissionSets: showPermissionSets ? [permissionsOf(profile)] : [],
    defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
    allowedSelfTradePreventionModes: ['NONE', 'EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
  };
}

export function exchangeInfoBody(
  symbols: readonly ExchangeInfoSymbol[],
  serverTime: number,
  weightLimitPerMinute = DEFAULT_WEIGHT_LIMIT_PER_MINUTE,
): ExchangeInfoBody {
  return {
    timezone: 'UTC',
    serverTime,
    rateLimits: [
      { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: weightLimitPerMinute },
      { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
      {
        rateLimitType: 'RAW_REQUESTS',
        interval: 'MINUTE',
        intervalNum: 5,
        limit: RAW_REQUESTS_PER_5_MINUTES,
      },
    ],
    exchangeFilters: [],
    symbols,
  };
}
