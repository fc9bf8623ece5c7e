/**
 * The stream client against the simulated exchange, which closes a connection with 1008 past
 * 5 incoming messages per second and after a minute without a pong (BINANCE.md section 2).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { MarketEvent } from '../src/binance/events.js';
import { createSimulatedExchange, type SimulatedExchange } from '../src/binance/simulator/index.js';
import {
  createStreamClient,
  type StreamClient,
  type StreamClientOptions,
} from '../src/binance/stream-client.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT'];
/** Bounded wait for a condition, in real ms. */
const WAIT_LIMIT_MS = 10_000;

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('stream client', () => {
  let exchange: SimulatedExchange | undefined;
  let client: StreamClient | undefined;
  afterEach(async () => {
    client?.stop();
    await exchange?.close();
  });

  async function start(options: Partial<StreamClientOptions> & { pingIntervalMs?: number } = {}) {
    exchange = await createSimulatedExchange({
      symbols: SYMBOLS,
      includeUniverseExtras: false,
      pingIntervalMs: options.pingIntervalMs,
    });
    const events: MarketEvent[] = [];
    client = createStreamClient({
      baseUrl: exchange.wsUrl,
      logger: pino({ level: 'silent' }),
      now: Date.now,
      onEvent: (event) => events.push(event),
      onResume: () => undefined,
      // One stream in the URL and one per SUBSCRIBE: five control messages to pace.
      urlStreams: 1,
      subscribeBatchStreams: 1,
      ...options,
    });
    client.setSymbols(SYMBOLS);
    client.start();
    return { events, exchange };
  }

  it('subscribes stream by stream at under 5 messages a second and answers every ping with its payload', async () => {
    // Pings every 100 ms compete with the SUBSCRIBEs for the same 5 messages a second.
    const { events, exchange: sim } = await start({ pingIntervalMs: 100 });
    await waitFor(() => client!.status().state === 'connected');
    await sleep(2500);
    const [connection] = sim.connections();
    expect(connection?.streams).toHaveLength(SYMBOLS.length + 1);
    expect(connection?.pongsReceived).toBeGreaterThan(0);
    expect(client!.status()).toMatchObject({ reconnects: 0, connections: 1, lastError: undefined });
    expect(events.some((event) => event.type === 'kline')).toBe(true);
    expect(events.some((event) => event.type === 'miniTickers')).toBe(true);
  });

  it('is closed with 1008 when it sends too fast, and then slows down', async () => {
    await start({ outgoingSpacingMs: 0, backoffBaseMs: 10 });
    // Two more streams (unknown to the exchange, which accepts and never feeds them): 7 SUBSCRIBEs at once.
    client!.setSymbols([...SYMBOLS, 'AAAUSDT', 'BBBUSDT']);
    await waitFor(() => (client?.status().lastError ?? '').includes('1008'));
    expect(client!.status().outgoingSpacingMs).toBeGreaterThan(0);
    await waitFor(() => client!.status().state === 'connected');
  });

  it('unsubscribes a symbol live', async () => {
    const { exchange: sim } = await start({ urlStreams: 100, subscribeBatchStreams: 200 });
    await waitFor(() => client!.status().state === 'connected');
    client!.setSymbols(SYMBOLS.slice(0, 2));
    await waitFor(() => sim.connections()[0]?.streams.length === 3);
    expect([...sim.connections()[0]!.streams].sort()).toEqual([
      '!miniTicker@arr',
      'btcusdt@kline_1m',
      'ethusdt@kline_1m',
    ]);
  });
});
