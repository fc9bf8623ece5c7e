/**
 * The simulated REST API (BINANCE.md 3): klines, exchangeInfo, ticker/24hr, ticker/price, time and
 * ping, each with its documented weight, `X-MBX-USED-WEIGHT-1M` on every response, 429/418 with
 * `Retry-After` (./rest-limits.ts), Binance's error bodies, and the injected REST faults.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from './clock.js';
import { exchangeInfoBody, exchangeInfoSymbol, permissionsOf } from './exchange-info.js';
import { takeRestError, type FaultState, type RestFaultStatus } from './faults.js';
import type { SimulatedMarket } from './market.js';
import { klinesBody } from './rest-klines.js';
import type { WeightLimiter } from './rest-limits.js';
import {
  apiErrors,
  BinanceApiError,
  checkSymbolName,
  Params,
  parsePermissions,
  parseSymbolList,
  parseSymbolStatus,
} from './rest-params.js';
import { tickerBody } from './stats.js';
import type { SymbolProfile } from './symbols.js';

/** Weights (BINANCE.md 3.2, 3.4, 3.5, 3.6, 3.7). */
export const KLINES_WEIGHT = 2;
export const EXCHANGE_INFO_WEIGHT = 20;
export const TIME_WEIGHT = 1;
export const PING_WEIGHT = 1;
export const TICKER_24H_SINGLE_WEIGHT = 2;
export const TICKER_24H_ALL_WEIGHT = 80;

/** ticker/24hr: symbol → 2; none → 80; symbols 1–20 → 2, 21–100 → 40, 101+ → 80 (BINANCE.md 3.5). */
function ticker24hWeight(params: URLSearchParams): number {
  if (params.has('symbol')) return TICKER_24H_SINGLE_WEIGHT;
  const list = params.get('symbols');
  if (list === null) return TICKER_24H_ALL_WEIGHT;
  let count = 1;
  try {
    const parsed: unknown = JSON.parse(list);
    if (Array.isArray(parsed)) count = parsed.length;
  } catch {
    // a malformed list is rejected by the handler; it costs the smallest weight
  }
  return count <= 20 ? TICKER_24H_SINGLE_WEIGHT : count <= 100 ? 40 : TICKER_24H_ALL_WEIGHT;
}

interface Route {
  readonly weight: (params: URLSearchParams) => number;
  readonly handle: (params: Params, now: number) => unknown;
}

export interface RestDeps {
  readonly market: SimulatedMarket;
  readonly clock: Clock;
  readonly faults: FaultState;
  readonly limiter: WeightLimiter;
  /** Simulated ms the klines lag the market (BINANCE.md 6.4); default 0. */
  readonly klineLagMs?: number;
}

export interface RestHandler {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Requests seen, answered or not. */
  readonly requests: number;
  /** Drops responses still waiting out an injected delay. */
  close(): void;
}

function lookupProfiles(market: SimulatedMarket, names: readonly string[]): SymbolProfile[] {
  return names.map((name) => market.profile(name) ?? throwError(apiErrors.badSymbol()));
}

function throwError(error: BinanceApiError): never {
  throw error;
}

function createRoutes({ market, limiter, klineLagMs }: RestDeps): Map<string, Route> {
  const exchangeInfo = (params: Params, now: number): unknown => {
    const symbol = params.optional('symbol');
    const symbols = params.optional('symbols');
    const permissions = params.optional('permissions');
    const show = params.optional('showPermissionSets');
    const status = parseSymbolStatus(params.optional('symbolStatus'));
    params.finish();
    const bySymbol = symbol !== undefined || symbols !== undefined;
    if (
      (symbol !== undefined && symbols !== undefined) ||
      (bySymbol && (status ?? permissions) !== undefined)
    ) {
      throw apiErrors.badCombination();
    }
    if (show !== undefined && show !== 'true' && show !== 'false')
      throw apiErrors.invalidValue('showPermissionSets');
    const wanted =
      permissions === undefined ? ['SPOT', 'MARGIN', 'LEVERAGED'] : parsePermissions(permissions);
    const profiles =
      symbol !== undefined
        ? lookupProfiles(market, [checkSymbolName(symbol)])
        : symbols !== undefined
          ? lookupProfiles(market, parseSymbolList(symbols))
          : market.symbols
              .map((name) => market.profile(name)!)
              .filter((p) => status === undefined || p.status === status)
              .filter((p) => permissionsOf(p).some((permission) => wanted.includes(permission)));
    const entries = profiles.map((p) => exchangeInfoSymbol(p, show !== 'false'));
    return exchangeInfoBody(entries, now, limiter.limit);
  };

  /** The symbols asked for by `symbol` / `symbols`, or all; shared by the ticker endpoints. */
  const tickerTargets = (params: Params): { single: boolean; profiles: SymbolProfile[] } => {
    const symbol = params.optional('symbol');
    const symbols = params.optional('symbols');
    if (symbol !== undefined && symbols !== undefined) throw apiErrors.badCombination();
    if (symbol !== undefined)
      return { single: true, profiles: lookupProfiles(market, [checkSymbolName(symbol)]) };
    const names = symbols !== undefined ? parseSymbolList(symbols) : market.symbols;
    return { single: false, profiles: lookupProfiles(market, names) };
  };

  const ticker24h = (params: Params, now: number): unknown => {
    const { single, profiles } = tickerTargets(params);
    const typeText = params.optional('type') ?? 'FULL';
    const status = parseSymbolStatus(params.optional('symbolStatus'));
    params.finish();
    if (typeText !== 'FULL' && typeText !== 'MINI') throw apiErrors.invalidValue('type');
    if (single && status !== undefined && profiles[0]!.status !== status) throw apiErrors.statusMismatch();
    const bodies = profiles
      .filter((p) => status === undefined || p.status === status)
      .map((p) => tickerBody(market.ticker24h(p.symbol, now), typeText));
    return single ? bodies[0] : bodies;
  };

  const tickerPrice = (params: Params, now: number): unknown => {
    const { single, profiles } = tickerTargets(params);
    const status = parseSymbolStatus(params.optional('symbolStatus'));
    params.finish();
    const bodies = profiles
      .filter((p) => status === undefined || p.status === status)
      .map((p) => ({ symbol: p.symbol, price: market.ticker24h(p.symbol, now).lastPrice }));
    return single ? bodies[0] : bodies;
  };

  const klines: Route = {
    weight: () => KLINES_WEIGHT,
    handle: (params, now) => klinesBody(market, params, now, klineLagMs),
  };
  const finishThen =
    (body: (now: number) => unknown) =>
    (params: Params, now: number): unknown => {
      params.finish();
      return body(now);
    };
  return new Map<string, Route>([
    ['/api/v3/ping', { weight: () => PING_WEIGHT, handle: finishThen(() => ({})) }],
    ['/api/v3/time', { weight: () => TIME_WEIGHT, handle: finishThen((now) => ({ serverTime: now })) }],
    ['/api/v3/exchangeInfo', { weight: () => EXCHANGE_INFO_WEIGHT, handle: exchangeInfo }],
    ['/api/v3/klines', klines],
    ['/api/v3/uiKlines', klines],
    ['/api/v3/ticker/24hr', { weight: ticker24hWeight, handle: ticker24h }],
    ['/api/v3/ticker/price', { weight: (p) => (p.has('symbol') ? 2 : 4), handle: tickerPrice }],
  ]);
}

function faultBody(status: RestFaultStatus, limit: number, now: number): { code: number; msg: string } {
  switch (status) {
    case 429:
      return {
        code: -1003,
        msg: `Too much request weight used; current limit is ${limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`,
      };
    case 418:
      return {
        code: -1003,
        msg: `Way too much request weight used; IP banned until ${now}. Please use WebSocket Streams for live updates to avoid bans.`,
      };
    case 503:
      return {
        code: -1008,
        msg: 'Server is currently overloaded with other requests. Please try again in a few minutes.',
      };
    case 500:
      return { code: -1000, msg: 'An unknown error occurred while processing the request.' };
  }
}

export function createRestHandler(deps: RestDeps): RestHandler {
  const { clock, faults, limiter } = deps;
  const routes = createRoutes(deps);
  const pending = new Set<NodeJS.Timeout>();
  let requests = 0;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    requests++;
    const ip = req.socket.remoteAddress ?? 'unknown';
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      const text = JSON.stringify(body);
      const allHeaders = {
        'Content-Type': 'application/json;charset=UTF-8',
        'X-MBX-USED-WEIGHT-1M': String(limiter.used(ip)),
        ...headers,
      };
      const write = (): void => {
        if (!res.destroyed) res.writeHead(status, allHeaders).end(text);
      };
      if (faults.restDelayMs <= 0) return write();
      const timer = setTimeout(() => {
        pending.delete(timer);
        write();
      }, faults.restDelayMs);
      pending.add(timer);
    };

    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://simulator');
    } catch {
      // A target such as `//` reads as a URL with an empty host; it must not throw out of the listener.
      return reply(400, { code: -1000, msg: 'Malformed request target.' });
    }
    const route = routes.get(url.pathname);
    if (!route) return reply(404, { code: -1000, msg: 'Unknown endpoint.' });
    if (req.method !== 'GET') return reply(405, { code: -1000, msg: 'Method not allowed.' });

    const injected = takeRestError(faults);
    if (injected) {
      const retry = injected.retryAfterSeconds;
      const headers: Record<string, string> = retry === undefined ? {} : { 'Retry-After': String(retry) };
      return reply(injected.status, faultBody(injected.status, limiter.limit, Date.now()), headers);
    }

    const admission = limiter.admit(ip, route.weight(url.searchParams));
    if (admission.kind === 'banned') {
      const body = faultBody(418, limiter.limit, admission.bannedUntil);
      return reply(418, body, { 'Retry-After': String(admission.retryAfterSeconds) });
    }
    if (admission.kind === 'limited') {
      const body = faultBody(429, limiter.limit, Date.now());
      return reply(429, body, { 'Retry-After': String(admission.retryAfterSeconds) });
    }
    try {
      reply(200, route.handle(new Params(url.searchParams), clock.now()));
    } catch (error) {
      const apiError = error instanceof BinanceApiError ? error : apiErrors.unknown();
      reply(apiError.httpStatus, { code: apiError.code, msg: apiError.message });
    }
  };

  return {
    handle,
    get requests() {
      return requests;
    },
    close() {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
    },
  };
}
