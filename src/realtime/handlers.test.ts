/**
 * The subscribe handler's bookkeeping on a real SQLite store, with the history read made to fail (a
 * store or cache error mid-subscribe, which no real part here can be made to do on cue).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../adapters/sqlite/store.js';
import { UnavailableError } from '../domain/errors.js';
import { createSessionCalendar } from '../domain/session-calendar.js';
import { createCandleReader } from '../market/candles.js';
import { createPriceReader } from '../market/prices.js';
import type { HistoricalData } from './events.js';
import { createHandlers, type ClientSession } from './handlers.js';

const NOW = Date.parse('2026-01-01T02:00:00Z');
const now = () => NOW;

function clientSession() {
  const emitted: string[] = [];
  const joined: string[] = [];
  const client: ClientSession = {
    subscriptions: new Set(),
    subscribing: new Map(),
    emit: (event, ..._payload) => void emitted.push(event),
    join: (symbol) => void joined.push(symbol),
    leave: () => undefined,
  };
  return { client, emitted, joined };
}

describe('subscribe handler', () => {
  let store: SqliteStore | undefined;
  afterEach(() => store?.close());

  async function handlers(history: (symbol: string) => Promise<HistoricalData>) {
    store = new SqliteStore({ path: ':memory:', now });
    await store.insertSymbolsIfMissing([
      { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
    ]);
    const calendar = createSessionCalendar({ hours: [1, 5, 9, 13, 17, 21], timeZone: 'UTC' });
    return createHandlers({
      store,
      prices: createPriceReader({ store, now }),
      candles: createCandleReader({ store, calendar, now }),
      now,
      history,
    });
  }

  it('keeps no subscription when its history cannot be read, so the failed ack leaves nothing behind', async () => {
    const h = await handlers(() => Promise.reject(new UnavailableError('store unreachable')));
    const { client, emitted, joined } = clientSession();
    await expect(h.subscribe(client, { symbol: 'BTCUSDT' })).rejects.toThrow('store unreachable');
    expect(emitted).toEqual([]); // never confirmed
    expect([...client.subscriptions]).toEqual([]);
    expect([...client.subscribing]).toEqual([]);
    expect(joined).toEqual([]);
  });

  it('leaves a confirmed subscription standing when a repeated subscribe fails to read its history', async () => {
    let fail = false;
    const h = await handlers((symbol) =>
      fail
        ? Promise.reject(new UnavailableError('store unreachable'))
        : Promise.resolve({ symbol, data: [] }),
    );
    const session = clientSession();
    const left: string[] = [];
    const client: ClientSession = { ...session.client, leave: (symbol) => void left.push(symbol) };
    await h.subscribe(client, { symbol: 'BTCUSDT' });
    fail = true;
    await expect(h.subscribe(client, { symbol: 'BTCUSDT' })).rejects.toThrow('store unreachable');
    expect([...client.subscriptions]).toEqual(['BTCUSDT']);
    expect(session.joined).toEqual(['BTCUSDT']);
    expect(left).toEqual([]);
  });

  it('stops a subscribe that an unsubscribe sent right after it overtook, and forgets both once done', async () => {
    const h = await handlers((symbol) => Promise.resolve({ symbol, data: [] }));
    const { client, emitted, joined } = clientSession();
    // Back to back: the subscribe is still checking the symbol when the unsubscribe runs.
    const subscribing = h.subscribe(client, { symbol: 'BTCUSDT' });
    await h.unsubscribe(client, { symbol: 'BTCUSDT' });
    expect(await subscribing).toEqual({ symbol: 'BTCUSDT' });
    expect(emitted).toEqual([]);
    expect(joined).toEqual([]);
    expect([...client.subscriptions]).toEqual([]);
    expect([...client.subscribing]).toEqual([]);
  });

  it('confirms a subscription with its history, then joins its room', async () => {
    const h = await handlers((symbol) => Promise.resolve({ symbol, data: [] }));
    const { client, emitted, joined } = clientSession();
    await h.subscribe(client, { symbol: 'BTCUSDT' });
    expect(emitted).toEqual(['subscription_confirmed', 'historical_data']);
    expect(joined).toEqual(['BTCUSDT']);
    expect([...client.subscriptions]).toEqual(['BTCUSDT']);
  });

  it('takes get_all_symbols with a null payload, as a client emitting undefined sends it', async () => {
    const h = await handlers(() => Promise.resolve({ symbol: '', data: [] }));
    expect(await h.getAllSymbols(clientSession().client, null)).toEqual({ symbols: ['BTCUSDT'] });
  });
});
