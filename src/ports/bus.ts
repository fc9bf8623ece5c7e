/**
 * The bus port (issue 6): messages every instance hears, its own included. In-process with
 * REDIS_URL unset (one instance), Redis pub/sub with it set. Delivery is at most once and in
 * order per publisher: a message published while Redis is down is lost, so nothing published here
 * may be the only record of anything (the store is the record; these are notifications).
 */
import { z } from 'zod';
import type { PriceQuote } from '../domain/price.js';
import { isSymbolName } from '../domain/symbol.js';

export interface BusMessages {
  /** The ingesting instance's new quotes: one message per exchange frame, the symbols that got a new 1-second sample. */
  readonly prices: { readonly quotes: readonly PriceQuote[] };
  /**
   * The session opening at `closedOpenTime` closed: the ingesting instance sends it once its watch
   * fired (the boundary plus the grace for the last candle's flush) and it has shared the closed
   * sessions through the cache; every instance pushes `interval_data` to its subscribers
   * (realtime/session-push.ts).
   */
  readonly sessions: { readonly closedOpenTime: number };
  /** Symbols were added, activated or deactivated: ingestion re-reads the tracked set now. */
  readonly symbols: { readonly changed: readonly string[] };
}

export type BusChannel = keyof BusMessages;

const decimalText = z.string().regex(/^\d+(\.\d+)?$/);
// Binance's own names, non-ASCII ones included (domain/symbol.ts): one refused symbol would refuse
// its whole message, a frame's quotes of every symbol.
const symbolName = z.string().refine(isSymbolName);

/**
 * What a message on each channel must look like. A remote bus checks every message against these
 * before any handler sees it: another program (or another version) on the same channels must not
 * be able to crash or corrupt an instance.
 */
export const BUS_MESSAGE_SCHEMAS: { readonly [C in BusChannel]: z.ZodType<BusMessages[C]> } = {
  prices: z.object({
    quotes: z.array(
      z.object({
        symbol: symbolName,
        price: decimalText,
        timestamp: z.number().int().nonnegative(),
        open24h: decimalText,
        high24h: decimalText,
        low24h: decimalText,
        volume24h: decimalText,
        quoteVolume24h: decimalText,
      }),
    ),
  }),
  sessions: z.object({ closedOpenTime: z.number().int() }),
  symbols: z.object({ changed: z.array(symbolName) }),
};

export interface BusStats {
  readonly published: number;
  readonly received: number;
  /** Not sent: Redis was down or refused it. */
  readonly dropped: number;
  /** Received but refused by BUS_MESSAGE_SCHEMAS (a remote bus only). */
  readonly malformed: number;
}

/** What `/system/status` shows of the bus. */
export interface BusStatus extends BusStats {
  readonly driver: Bus['driver'];
  readonly healthy: boolean;
}

export interface Bus {
  readonly driver: 'memory' | 'redis';
  /** Never throws and never waits: a message that cannot be sent is counted and dropped. */
  publish<C extends BusChannel>(channel: C, message: BusMessages[C]): void;
  /** Returns the unsubscription. */
  subscribe<C extends BusChannel>(channel: C, handler: (message: BusMessages[C]) => void): () => void;
  /** Whether messages can flow right now (Redis connected). */
  healthy(): boolean;
  stats(): BusStats;
  close(): Promise<void>;
}
