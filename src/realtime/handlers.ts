/**
 * What each client event does (SPEC section 6), apart from transport concerns: each handler takes
 * the raw payload, validates it, emits its reply event and returns the ack's `data`. Errors are
 * thrown as AppErrors and translated by the gateway.
 */
import { z } from 'zod';
import { candleToJson, type Candle } from '../domain/candle.js';
import { MINUTE_MS } from '../domain/intervals.js';
import { NotFoundError, UnavailableError } from '../domain/errors.js';
import type { CandleReader } from '../market/candles.js';
import type { LatestPrice, PriceReader } from '../market/prices.js';
import type { Cache } from '../ports/cache.js';
import type { Store } from '../ports/store.js';
import { TooManySubscriptionsError } from './errors.js';
import type {
  AllSymbols,
  HistoricalData,
  IntervalData,
  MultiplePrices,
  PriceUpdate,
  ServerToClientEvents,
  SymbolPayload,
} from './events.js';
import {
  intervalDataSchema,
  multiplePricesSchema,
  parsePayload,
  recentIntervalsSchema,
  symbolPayloadSchema,
} from './schemas.js';

/** Symbols one client may be subscribed to at once (SPEC section 6). */
export const MAX_SUBSCRIPTIONS_PER_CLIENT = 250;

// `null` too: a client emitting `(event, undefined, ack)` sends null on the wire.
const noPayloadSchema = z.strictObject({}).nullish();
const toNumber = Number.parseFloat;

export function priceUpdate(latest: LatestPrice): PriceUpdate {
  return {
    symbol: latest.symbol,
    price: toNumber(latest.price),
    timestamp: latest.timestamp,
    change24h: toNumber(latest.change24h),
    changePercent24h: latest.changePercent24h,
    high24h: toNumber(latest.high24h),
    low24h: toNumber(latest.low24h),
    volume24h: toNumber(latest.volume24h),
  };
}

export interface HandlerDeps {
  readonly store: Store;
  readonly prices: PriceReader;
  readonly candles: CandleReader;
  readonly now: () => number;
  /** `historical_data` of a symbol, shared by the subscribers of the same second. */
  readonly history: (symbol: string) => Promise<HistoricalData>;
  /**
   * Closed sessions shared between instances (the cache's session aggregates): at a boundary the
   * first instance computes each closed session from the store, the others read it.
   */
  readonly sessionCache?: Pick<Cache, 'getSession' | 'setSessions'>;
  /** Whether a `price_update` of the symbol is on its way to its room (`Broadcaster.pending`). */
  readonly updatePending?: (symbol: string) => boolean;
}

/** One client's side of the conversation: its subscriptions and how it joins and leaves rooms. */
export interface ClientSession {
  readonly subscriptions: Set<string>;
  /**
   * Per symbol, the ticket of the newest `subscribe` still running. A later `subscribe` or an
   * `unsubscribe` replaces or removes it, so a `subscribe` still awaiting the store stops instead of
   * subscribing after the client has changed its mind. Emptied as they finish.
   */
  readonly subscribing: Map<string, number>;
  emit<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): void;
  join(symbol: string): void;
  leave(symbol: string): void;
  /** False while price updates skip this client (its writes backed up); default true. */
  readonly receivesUpdates?: () => boolean;
}

/** A closed session's push (`interval_data`), and whether it is ready to go. */
export interface ClosedSession {
  readonly data: IntervalData;
  /**
   * The closed session is final (see `isFinal`; an empty one has nothing to wait for) and the new
   * one has begun: SPEC section 6 pushes both, and at the push, seconds after the boundary, the new
   * session's first 1m candle may not be stored yet (the stream sends a minute's first kline up
   * to 2 s in, and the write buffer flushes each second).
   */
  readonly ready: boolean;
}

export function createHandlers(deps: HandlerDeps) {
  const { store, prices, candles, now } = deps;
  let tickets = 0;

  /**
   * A closed session as final as it will be: every 1m candle in it closed and its last minute
   * stored. A missing last minute is far more often a closing kline lost with a connection (gap
   * repair brings it) than a halt, so it is waited for too (the push gives up after a while).
   */
  const isFinal = async (symbol: string, openTime: number, session: Candle): Promise<boolean> => {
    if (session.openTime !== openTime || !session.closed) return false;
    const lastMinute = session.closeTime + 1 - MINUTE_MS;
    return (await store.nearestOpenTime(symbol, session.closeTime, -1)) === lastMinute;
  };

  const knownSymbol = async (symbol: string): Promise<string> => {
    if (!(await store.getSymbol(symbol))) throw new NotFoundError(`unknown symbol ${symbol}`);
    return symbol;
  };
  const sessions = async (symbol: string, read: { from?: number; to?: number; limit: number }) => {
    const found = await candles.read({ symbol, interval: 'session', ...read });
    return { symbol, intervals: found.map(candleToJson) };
  };

  return {
    subscribe: async (client: ClientSession, payload: unknown): Promise<SymbolPayload> => {
      const { symbol } = parsePayload(symbolPayloadSchema, payload);
      // A subscription already confirmed (none in flight for it): a failed repeat leaves it standing.
      const confirmed = client.subscriptions.has(symbol) && !client.subscribing.has(symbol);
      const ticket = ++tickets;
      client.subscribing.set(symbol, ticket);
      // False once a later subscribe or an unsubscribe of the symbol came in: that one decides.
      const current = () => client.subscribing.get(symbol) === ticket;
      try {
        await knownSymbol(symbol);
        if (!current()) return { symbol };
        // Checked after the await, next to the add, so concurrent subscribes cannot overshoot.
        if (!client.subscriptions.has(symbol) && client.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CLIENT) {
          throw new TooManySubscriptionsError(
            `at most ${MAX_SUBSCRIPTIONS_PER_CLIENT} subscriptions per client; unsubscribe first`,
          );
        }
        client.subscriptions.add(symbol); // held while the history is read: the limit stays exact
        let history: HistoricalData;
        try {
          history = await deps.history(symbol);
        } catch (error) {
          // The ack fails, so a new subscription does not stand (nor count toward the limit).
          if (current() && !confirmed) {
            client.subscriptions.delete(symbol);
            client.leave(symbol);
          }
          throw error;
        }
        if (!current()) return { symbol };
        // Confirmed only now, so a subscription that fails or is overtaken is never confirmed.
        client.emit('subscription_confirmed', { symbol });
        client.emit('historical_data', history);
        // Joined only now, so no price_update overtakes the history it continues. The history is
        // shared for a second (and may come from a store a flush behind): an update broadcast since
        // it was built missed this client, which would show the history's last price until the
        // symbol's next sample. So the live price, if newer, follows in the same turn, unless an
        // update is on its way to the room and to this client (it brings this quote or a newer one:
        // sending both would repeat it). A symbol with no live quote was never broadcast.
        client.join(symbol);
        const live = prices.liveLatest(symbol);
        const last = history.data.at(-1)?.timestamp ?? -Infinity;
        const onItsWay = client.receivesUpdates?.() !== false && deps.updatePending?.(symbol) === true;
        if (live && live.timestamp > last && !onItsWay) {
          client.emit('price_update', priceUpdate(live));
        }
        return { symbol };
      } finally {
        if (current()) client.subscribing.delete(symbol);
      }
    },

    unsubscribe: async (client: ClientSession, payload: unknown): Promise<SymbolPayload> => {
      const { symbol } = parsePayload(symbolPayloadSchema, payload);
      const held = client.subscriptions.has(symbol) || client.subscribing.has(symbol);
      // Before any await, so a subscribe sent after this unsubscribe is not undone by it.
      client.subscribing.delete(symbol); // a subscribe still running stops
      client.subscriptions.delete(symbol);
      client.leave(symbol);
      // One the client held needs no read: it was known when asked for.
      if (!held) await knownSymbol(symbol);
      return { symbol };
    },

    getAllSymbols: async (client: ClientSession, payload: unknown): Promise<AllSymbols> => {
      parsePayload(noPayloadSchema, payload);
      const symbols = (await store.listSymbols({ active: true })).map((record) => record.symbol);
      const reply = { symbols };
      client.emit('all_symbols', reply);
      return reply;
    },

    getMultiplePrices: async (client: ClientSession, payload: unknown): Promise<MultiplePrices> => {
      const request = parsePayload(multiplePricesSchema, payload);
      const wanted = [...new Set(request.symbols)];
      const stored = new Set((await store.listSymbols()).map((record) => record.symbol));
      const unknown = wanted.filter((symbol) => !stored.has(symbol));
      if (unknown.length > 0) throw new NotFoundError(`unknown symbols ${unknown.join(', ')}`);
      const found = await Promise.all(
        wanted.map((symbol) =>
          prices.latest(symbol).catch((error: unknown) => {
            // A known symbol with no price yet is left out rather than failing the whole list.
            if (error instanceof UnavailableError) return undefined;
            throw error;
          }),
        ),
      );
      const reply = {
        prices: found
          .filter((latest) => latest !== undefined)
          .map((latest) => ({
            symbol: latest.symbol,
            price: toNumber(latest.price),
            timestamp: latest.timestamp,
          })),
      };
      client.emit('multiple_prices', reply);
      return reply;
    },

    getIntervalData: async (client: ClientSession, payload: unknown): Promise<IntervalData> => {
      const request = parsePayload(intervalDataSchema, payload);
      const symbol = await knownSymbol(request.symbol);
      const session = candles.sessionAt(request.intervalStart ?? now());
      const reply = await sessions(symbol, { from: session.openTime, to: session.openTime, limit: 1 });
      client.emit('interval_data', reply);
      return reply;
    },

    getRecentIntervals: async (client: ClientSession, payload: unknown): Promise<IntervalData> => {
      const request = parsePayload(recentIntervalsSchema, payload);
      const symbol = await knownSymbol(request.symbol);
      const reply = await sessions(symbol, { to: now(), limit: request.count });
      client.emit('interval_data', reply);
      return reply;
    },

    /**
     * Computes the session opening at `openTime` of every active symbol once and keeps the closed
     * ones in the cache, where every instance's push (`closedSession`) finds them: the ingesting
     * instance does this before it announces the close (session-push.ts).
     */
    shareClosedSessions: async (openTime: number): Promise<void> => {
      const cache = deps.sessionCache;
      if (!cache) return;
      const shared = [];
      for (const { symbol } of await store.listSymbols({ active: true })) {
        const [closed] = await candles.read({ symbol, interval: 'session', from: openTime, limit: 1 });
        if (closed && (await isFinal(symbol, openTime, closed))) shared.push({ symbol, candle: closed });
      }
      await cache.setSessions(shared);
    },

    /**
     * The closed session and the one after it, for the push when a session closes, and whether the
     * push is ready (`ClosedSession.ready`). Only a final closed session is kept in the cache for
     * the other instances.
     */
    closedSession: async (symbol: string, openTime: number): Promise<ClosedSession> => {
      const cache = deps.sessionCache;
      const cached = await cache?.getSession(symbol, openTime).catch(() => undefined);
      // Kept by (symbol, open time) for 24 h: one of a calendar since changed (INTERVAL_HOURS or
      // INTERVAL_TIMEZONE, on a restart or in a rolling deploy) may open at the same instant.
      if (cached?.closed && cached.closeTime === candles.sessionAt(openTime).closeTime) {
        const next = await candles.read({
          symbol,
          interval: 'session',
          from: cached.closeTime + 1,
          limit: 1,
        });
        const intervals = [cached, ...next].map(candleToJson);
        return { data: { symbol, intervals }, ready: next.length > 0 };
      }
      const found = await candles.read({ symbol, interval: 'session', from: openTime, limit: 2 });
      const closed = found[0]?.openTime === openTime ? found[0] : undefined;
      const final = !closed || (await isFinal(symbol, openTime, closed));
      if (cache && closed && final) {
        cache.setSessions([{ symbol, candle: closed }]).catch(() => undefined); // a copy: best effort
      }
      const begun = found.some((session) => session.openTime > openTime);
      return { data: { symbol, intervals: found.map(candleToJson) }, ready: final && begun };
    },
  };
}
