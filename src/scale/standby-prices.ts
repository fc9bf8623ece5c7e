/**
 * A standby instance's prices while its bus is down or silent (Redis unreachable or frozen). A
 * standby hears the ingesting instance's quotes only on the bus, and its clients get
 * `price_update`s only through Socket.IO's Redis adapter, so without Redis they would hear nothing
 * and `/latest` would keep the last quote heard. Meanwhile it reads prices from the shared store
 * instead, which the ingesting instance keeps writing (it needs no Redis for that): every
 * STANDBY_POLL_INTERVAL_MS, each active symbol's newest stored sample and, for one newer than the
 * quote held, its 24 h figures from the stored candles (`PriceReader.quoteOf`). The new quotes go
 * into the live state and their samples to `onSamples`, this instance's own broadcast (the gateway's
 * `localSamples`). Prices then lag the exchange by the ingesting instance's flush period (about a
 * second) plus the poll's. Once the bus is back (or this instance takes the lease) the reads stop
 * and the bus's quotes take over.
 */
import type { Logger } from 'pino';
import type { PriceQuote, PriceSample } from '../domain/price.js';
import type { LiveState } from '../market/live-state.js';
import type { PriceReader } from '../market/prices.js';
import type { Bus } from '../ports/bus.js';
import type { Store } from '../ports/store.js';

/** How often a standby whose bus is down reads the newest stored prices, in ms: the ingesting instance's flush period. */
export const STANDBY_POLL_INTERVAL_MS = 1000;
/**
 * How long a standby may hear no quote on a bus that looks connected before it reads the store, in
 * ms: several of the exchange's one-second frames. A frozen Redis keeps its connections up; a quiet
 * market only costs reads that find nothing newer (the bus is ahead of the store).
 */
export const STANDBY_BUS_SILENCE_MS = 5000;

export interface StandbyPricesDeps {
  readonly store: Pick<Store, 'listSymbols' | 'listPriceSamples'>;
  readonly prices: Pick<PriceReader, 'quoteOf'>;
  readonly liveState: Pick<LiveState, 'latest' | 'applyQuotes'>;
  /** The bus: down, or silent for STANDBY_BUS_SILENCE_MS, it is read around. */
  readonly bus: Pick<Bus, 'healthy' | 'subscribe'>;
  /** Whether this instance ingests (it never reads around the bus then). */
  readonly ingesting: () => boolean;
  /**
   * Whether Socket.IO's adapter connection is up: other instances' updates then reach this one's
   * clients again, and the store's quotes, older, must not follow them (default: never).
   */
  readonly adapterReady?: () => boolean;
  /** Epoch ms: the quotes' receipt time. */
  readonly now: () => number;
  readonly logger: Logger;
  /** Hears the samples of the quotes taken from the store. */
  readonly onSamples: (samples: readonly PriceSample[]) => void;
  /** Overrides STANDBY_POLL_INTERVAL_MS and STANDBY_BUS_SILENCE_MS (tests). */
  readonly intervalMs?: number;
  readonly silenceMs?: number;
  /** Monotonic ms for the bus's silence (real time by default). */
  readonly clock?: () => number;
}

export interface StandbyPrices {
  /** Reads the store once now if needed; resolves with the number of quotes it renewed. */
  poll(): Promise<number>;
  stop(): void;
}

export function startStandbyPrices(deps: StandbyPricesDeps): StandbyPrices {
  const { store, prices, liveState, logger, bus } = deps;
  const clock = deps.clock ?? (() => performance.now());
  const silenceMs = deps.silenceMs ?? STANDBY_BUS_SILENCE_MS;
  let lastHeard = clock();
  const stopListening = bus.subscribe('prices', () => (lastHeard = clock()));
  const silent = (): boolean => clock() - lastHeard > silenceMs;
  /** Whether prices must come from the store now. */
  const needed = (): boolean => !deps.ingesting() && (!bus.healthy() || silent());
  /**
   * Whether this instance's clients must get them too: not once the adapter's connection is back
   * while the bus's is not yet (Redis returning), when the ingesting instance's updates reach them
   * again; still while the bus is connected but silent (a frozen Redis freezes the adapter too).
   */
  const toClients = (): boolean => !(deps.adapterReady?.() ?? false) || (bus.healthy() && silent());
  let stopped = false;
  /** Whether the last poll read the store: its start and end are logged once each. */
  let reading = false;

  const poll = async (): Promise<number> => {
    if (stopped || !needed()) {
      if (reading) logger.info('prices come from the bus again');
      reading = false;
      return 0;
    }
    if (!reading) logger.warn('no quotes from the bus on a standby instance: reading prices from the store');
    reading = true;
    const quotes: PriceQuote[] = [];
    for (const { symbol } of await store.listSymbols({ active: true })) {
      const [newest] = await store.listPriceSamples({ symbol, limit: 1, order: 'desc' });
      const held = liveState.latest(symbol);
      if (newest && (!held || newest.timestamp > held.timestamp)) quotes.push(await prices.quoteOf(newest));
    }
    // The bus may be back by now: its quotes, and the adapter's updates, take over at once.
    if (stopped || quotes.length === 0 || !needed()) return 0;
    liveState.applyQuotes(quotes, deps.now());
    if (toClients())
      deps.onSamples(quotes.map(({ symbol, price, timestamp }) => ({ symbol, price, timestamp })));
    return quotes.length;
  };

  let timer: NodeJS.Timeout | undefined;
  /** One poll at a time: the next is scheduled when this one ends, however long it took. */
  const run = (): void => {
    poll()
      .catch((error: unknown) => logger.warn({ err: error }, 'reading prices from the store failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(run, deps.intervalMs ?? STANDBY_POLL_INTERVAL_MS).unref();
      });
  };
  timer = setTimeout(run, deps.intervalMs ?? STANDBY_POLL_INTERVAL_MS).unref();
  return {
    poll,
    stop() {
      stopped = true;
      stopListening();
      clearTimeout(timer);
    },
  };
}
