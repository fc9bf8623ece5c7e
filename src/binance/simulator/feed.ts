/**
 * What the market streams publish at one simulated second boundary: the `data` JSON of every
 * stream, built once per boundary and shared by all connections (BINANCE.md 1.3, 1.5, 1.6).
 *
 * At boundary T (a multiple of 1000 ms) a `<symbol>@kline_1m` stream carries:
 * - when T closes a minute: that minute's final kline, `x:true`, equal to `market.trueKline`;
 * - otherwise, every `klineUpdateIntervalMs`: the forming kline with the trades before T, `x:false`.
 * A halted minute yields nothing at all. `!miniTicker@arr` carries, every second, the 24 h ticker
 * of only the symbols whose ticker changed since the previous second ("only tickers that have
 * changed will be present in the array", BINANCE.md 1.3 and 6.7).
 */
import { MINUTE_MS } from '../../domain/intervals.js';
import type { SimulatedMarket } from './market.js';
import { miniTickerEvent, type MiniTickerEvent } from './stats.js';
import { combinedFrame, klineEventJson } from './wire.js';

export const KLINE_STREAM_SUFFIX = '@kline_1m';
export const MINI_TICKER_ARRAY_STREAM = '!miniTicker@arr';
export const SERVER_SHUTDOWN_STREAM = '!serverShutdown';
export const SECOND_MS = 1000;

export interface BoundaryFrames {
  readonly time: number;
  /** The `data` JSON of `stream` at this boundary, or undefined when it publishes nothing. */
  data(stream: string): string | undefined;
  /** The same wrapped as a combined-stream frame. */
  combined(stream: string): string | undefined;
}

export interface Feed {
  /** Frames of boundary `time`; call with increasing times (the miniTicker diff needs the previous one). */
  at(time: number, withMiniTicker: boolean): BoundaryFrames;
}

/** The symbol's `!miniTicker@arr` entry at boundary `time`: its 24 h ticker just before it. */
function miniTickerAt(market: SimulatedMarket, symbol: string, time: number): MiniTickerEvent {
  return miniTickerEvent(market.ticker24h(symbol, time - 1), time);
}

/** What makes a ticker "changed" for `!miniTicker@arr`: any of its figures. */
const miniTickerKey = (event: MiniTickerEvent): string =>
  `${event.c}|${event.o}|${event.h}|${event.l}|${event.v}|${event.q}`;

/**
 * The `!miniTicker@arr` entries the feed sends for `symbols` at the boundaries in [from, to]: one
 * per symbol and second whose ticker changed since the previous second. Computed from the market
 * alone, so tests and benchmarks can compare what a service delivered with what was sent.
 */
export function miniTickerChanges(
  market: SimulatedMarket,
  symbols: readonly string[],
  from: number,
  to: number,
): MiniTickerEvent[] {
  const changes: MiniTickerEvent[] = [];
  const first = Math.ceil(from / SECOND_MS) * SECOND_MS;
  for (const symbol of symbols) {
    if (market.profile(symbol)?.status !== 'TRADING') continue;
    let previous = miniTickerKey(miniTickerAt(market, symbol, first - SECOND_MS));
    for (let time = first; time <= to; time += SECOND_MS) {
      const event = miniTickerAt(market, symbol, time);
      const key = miniTickerKey(event);
      if (key !== previous) changes.push(event);
      previous = key;
    }
  }
  return changes;
}

export function createFeed(market: SimulatedMarket, klineUpdateIntervalMs: number): Feed {
  const symbolOfStream = new Map<string, string>();
  for (const symbol of market.symbols)
    symbolOfStream.set(`${symbol.toLowerCase()}${KLINE_STREAM_SUFFIX}`, symbol);
  const trading = market.symbols.filter((s) => market.profile(s)?.status === 'TRADING');
  const lastTicker = new Map<string, string>();

  const klineData = (symbol: string, time: number): string | undefined => {
    if (time % MINUTE_MS === 0) {
      const closed = market.trueKline(symbol, time - MINUTE_MS);
      return closed && klineEventJson(closed, time, true);
    }
    if (time % klineUpdateIntervalMs !== 0) return undefined;
    const forming = market.klineAt(symbol, time - 1);
    return forming && klineEventJson(forming, time, false);
  };

  const miniTickerData = (time: number): string | undefined => {
    const changed: MiniTickerEvent[] = [];
    for (const symbol of trading) {
      const event = miniTickerAt(market, symbol, time);
      const key = miniTickerKey(event);
      if (lastTicker.get(symbol) === key) continue;
      lastTicker.set(symbol, key);
      changed.push(event);
    }
    return changed.length > 0 ? JSON.stringify(changed) : undefined;
  };

  return {
    at(time, withMiniTicker) {
      const data = new Map<string, string | undefined>();
      const wrapped = new Map<string, string | undefined>();
      const miniTicker = withMiniTicker ? miniTickerData(time) : undefined;
      const dataOf = (stream: string): string | undefined => {
        if (stream === MINI_TICKER_ARRAY_STREAM) return miniTicker;
        if (data.has(stream)) return data.get(stream);
        const symbol = symbolOfStream.get(stream);
        const json = symbol === undefined ? undefined : klineData(symbol, time);
        data.set(stream, json);
        return json;
      };
      return {
        time,
        data: dataOf,
        combined(stream) {
          if (wrapped.has(stream)) return wrapped.get(stream);
          const json = dataOf(stream);
          const frame = json === undefined ? undefined : combinedFrame(stream, json);
          wrapped.set(stream, frame);
          return frame;
        },
      };
    },
  };
}
