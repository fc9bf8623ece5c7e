import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS, MAX_TIME_MS, MINUTE_MS } from '../src/domain/intervals.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { createSyntheticMarket } from './helpers/synthetic-market.js';

const DAY = Date.parse('2024-09-21T00:00:00Z');
const NOW = DAY + 3 * 86_400_000;
const API = '/api/v1';

interface Envelope<T = unknown> {
  success: boolean;
  statusCode: number;
  message: string;
  data: T;
  meta?: { count: number; limit?: number; from?: number | null; to?: number | null };
  errorSources?: { path: string; message: string }[];
}

interface CandleJson {
  openTime: number;
  closeTime: number;
  open: number;
  high: number;
  close: number;
  volume: number;
  quoteVolume: number;
  trades: number;
  closed: boolean;
  interval: string;
}

describe('read API', () => {
  let t: TestApp;
  const market = createSyntheticMarket({ symbol: 'BTCUSDT', start: DAY, minutes: 2 * 1440, seed: 5 });
  const get = async <T = unknown>(url: string) => {
    const response = await t.app.inject({ method: 'GET', url });
    return { status: response.statusCode, body: response.json<Envelope<T>>(), headers: response.headers };
  };

  beforeAll(async () => {
    t = await createTestApp({ now: () => NOW });
    await t.store.insertSymbolsIfMissing([
      { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
      { symbol: 'ETHUSDT', baseAsset: 'ETH', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
      { symbol: 'OLDUSDT', baseAsset: 'OLD', quoteAsset: 'USDT', status: 'BREAK', isActive: false },
    ]);
    await t.store.upsertCandles(market.candles1m);
    await t.store.insertPriceSamples(
      Array.from({ length: 20 }, (_, i) => ({
        symbol: 'BTCUSDT',
        price: `${63000 + i}.5`,
        timestamp: DAY + i * 1000 + 250,
      })),
    );
  });
  afterAll(async () => {
    await t.app.close();
  });

  describe('system', () => {
    it('reports healthy while the store answers', async () => {
      const { status, body } = await get(`${API}/system/health`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ success: true, statusCode: 200, data: { status: 'ok' } });
    });

    it('reports status: version, uptime, store and symbols', async () => {
      const { status, body } = await get<Record<string, unknown>>(`${API}/system/status`);
      expect(status).toBe(200);
      expect(body.data).toMatchObject({
        version: '0.0.0-test',
        store: { driver: 'sqlite', healthy: true },
        symbols: { total: 3, active: 2 },
        binance: { state: 'disabled' },
      });
    });

    it('reports degraded with 503 when the store is gone', async () => {
      const broken = await createTestApp();
      await broken.store.close();
      const response = await broken.app.inject({ method: 'GET', url: `${API}/system/health` });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({
        success: false,
        statusCode: 503,
        data: { status: 'degraded' },
      });
      await broken.app.close();
    });
  });

  describe('symbols', () => {
    it('lists all symbols with a count', async () => {
      const { body } = await get<{ symbol: string; isActive: boolean }[]>(`${API}/symbols`);
      expect(body.data.map((s) => s.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'OLDUSDT']);
      expect(body.meta).toEqual({ count: 3 });
    });

    it('filters by active and by search', async () => {
      const inactive = await get<{ symbol: string }[]>(`${API}/symbols?active=false`);
      expect(inactive.body.data.map((s) => s.symbol)).toEqual(['OLDUSDT']);
      const search = await get<{ symbol: string }[]>(`${API}/symbols?search=eth`);
      expect(search.body.data.map((s) => s.symbol)).toEqual(['ETHUSDT']);
    });

    it('lists the names of active symbols', async () => {
      const { body } = await get(`${API}/symbols/list`);
      expect(body.data).toEqual(['BTCUSDT', 'ETHUSDT']);
    });

    it('names a bad active filter', async () => {
      const { status, body } = await get(`${API}/symbols?active=yes`);
      expect(status).toBe(400);
      expect(body.errorSources?.map((source) => source.path)).toEqual(['active']);
    });
  });

  describe('price samples', () => {
    it('returns the newest samples ascending by default', async () => {
      const { body } = await get<{ price: number; timestamp: number }[]>(`${API}/price-data/BTCUSDT?limit=3`);
      expect(body.data).toEqual([
        { symbol: 'BTCUSDT', price: 63017.5, timestamp: DAY + 17_250 },
        { symbol: 'BTCUSDT', price: 63018.5, timestamp: DAY + 18_250 },
        { symbol: 'BTCUSDT', price: 63019.5, timestamp: DAY + 19_250 },
      ]);
      expect(body.meta).toEqual({ count: 3, limit: 3, from: DAY + 17_250, to: DAY + 19_250 });
    });

    it('reads an ISO 8601 time without an offset as UTC, whatever the server time zone', async () => {
      const previous = process.env.TZ;
      process.env.TZ = 'America/New_York';
      try {
        for (const from of ['2024-09-21T00:00:05', '2024-09-21 00:00:05', '2024-09-21T02:00:05+0200']) {
          const { body } = await get<{ timestamp: number }[]>(
            `${API}/price-data/BTCUSDT?from=${encodeURIComponent(from)}&limit=1`,
          );
          expect(
            body.data.map((s) => s.timestamp),
            from,
          ).toEqual([DAY + 5250]);
        }
      } finally {
        if (previous === undefined) delete process.env.TZ;
        else process.env.TZ = previous;
      }
    });

    it('reads an offset whose unencoded + arrived as a space as that + offset', async () => {
      for (const from of [
        '2024-09-21T02:00:05+02:00',
        '2024-09-21T02:00:05+0200',
        '2024-09-21+02:00:05+02:00',
        '2024-09-20T23:00:05-01:00',
      ]) {
        // Written into the URL as it is: the query parser reads its + as a space.
        const { status, body } = await get<{ timestamp: number }[]>(
          `${API}/price-data/BTCUSDT?from=${from}&limit=1`,
        );
        expect(status, from).toBe(200);
        expect(
          body.data.map((s) => s.timestamp),
          from,
        ).toEqual([DAY + 5250]);
      }
    });

    it('reads from a time given as ISO 8601 or epoch ms', async () => {
      const iso = await get<{ timestamp: number }[]>(
        `${API}/price-data/btcusdt?from=2024-09-21T00:00:05Z&limit=2`,
      );
      expect(iso.body.data.map((s) => s.timestamp)).toEqual([DAY + 5250, DAY + 6250]);
      const ms = await get<{ timestamp: number }[]>(`${API}/price-data/BTCUSDT?to=${DAY + 2000}`);
      expect(ms.body.data.map((s) => s.timestamp)).toEqual([DAY + 250, DAY + 1250]);
    });
  });

  describe('latest', () => {
    it('gives the latest price with exact 24 h statistics from the candles', async () => {
      const { status, body } = await get<Record<string, number | boolean | string>>(
        `${API}/price-data/BTCUSDT/latest`,
      );
      expect(status).toBe(200);
      const last = market.candles1m.at(-1)!;
      const day = market.truth(last.openTime - 1439 * MINUTE_MS, last.closeTime, '24h')!;
      expect(body.data).toMatchObject({
        symbol: 'BTCUSDT',
        price: Number.parseFloat(last.close),
        timestamp: last.closeTime,
        open24h: Number.parseFloat(day.open),
        high24h: Number.parseFloat(day.high),
        low24h: Number.parseFloat(day.low),
        volume24h: Number.parseFloat(day.volume),
        quoteVolume24h: Number.parseFloat(day.quoteVolume),
        ageMs: NOW - last.closeTime,
        stale: true,
      });
      expect(body.data.change24h).toBeCloseTo(Number.parseFloat(last.close) - Number.parseFloat(day.open), 6);
    });

    it('answers 503 for a known symbol that has no price yet', async () => {
      const { status, body } = await get(`${API}/price-data/ETHUSDT/latest`);
      expect(status).toBe(503);
      expect(body).toMatchObject({ success: false, statusCode: 503, errorSources: [] });
    });
  });

  describe('candles', () => {
    it('returns the six sessions of a day, which are Binance 4h candles at -1:00', async () => {
      const from = Date.parse('2024-09-21T01:00:00Z');
      const sessions = await get<CandleJson[]>(`${API}/price-data/BTCUSDT/intervals?from=${from}&limit=6`);
      const fourHours = await get<CandleJson[]>(
        `${API}/price-data/BTCUSDT/aggregated?interval=4h&timeZone=-1:00&from=${from}&limit=6`,
      );
      expect(sessions.body.data.map((c) => c.openTime)).toEqual(
        [1, 5, 9, 13, 17, 21].map((h) => DAY + h * HOUR_MS),
      );
      expect(sessions.body.data.map(({ interval: _, ...c }) => c)).toEqual(
        fourHours.body.data.map(({ interval: _, ...c }) => c),
      );
      for (const candle of sessions.body.data) {
        const truth = market.truth(candle.openTime, candle.closeTime, 'session')!;
        expect(candle).toMatchObject({
          interval: 'session',
          closeTime: candle.openTime + 4 * HOUR_MS - 1,
          open: Number.parseFloat(truth.open),
          high: Number.parseFloat(truth.high),
          close: Number.parseFloat(truth.close),
          volume: Number.parseFloat(truth.volume),
          quoteVolume: Number.parseFloat(truth.quoteVolume),
          trades: truth.trades,
          closed: true,
        });
      }
    });

    it('returns the latest sessions by default, six of them, ending with the last one', async () => {
      const { body } = await get<CandleJson[]>(`${API}/price-data/BTCUSDT/intervals`);
      expect(body.data).toHaveLength(6);
      expect(body.data.at(-1)?.openTime).toBe(DAY + 86_400_000 + 21 * HOUR_MS);
      expect(body.meta).toEqual({
        count: 6,
        limit: 6,
        from: body.data[0]?.openTime,
        to: body.data.at(-1)?.closeTime,
      });
    });

    it.each(['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d'])(
      'aggregates %s candles that match the trades exactly',
      async (interval) => {
        const { status, body } = await get<CandleJson[]>(
          `${API}/price-data/BTCUSDT/aggregated?interval=${interval}&limit=1000`,
        );
        expect(status).toBe(200);
        expect(body.data.length).toBeGreaterThan(0);
        for (const candle of body.data.slice(-20)) {
          const truth = market.truth(candle.openTime, candle.closeTime, interval)!;
          expect(candle.volume).toBe(Number.parseFloat(truth.volume));
          expect(candle.quoteVolume).toBe(Number.parseFloat(truth.quoteVolume));
          expect(candle.trades).toBe(truth.trades);
        }
      },
    );

    it('aligns to a timeZone offset of 05:45 and keeps times in UTC', async () => {
      const { body } = await get<CandleJson[]>(
        `${API}/price-data/BTCUSDT/aggregated?interval=1d&timeZone=05:45`,
      );
      // The day opening 2024-09-20T18:15Z is left out: the stored minutes start inside it.
      expect(body.data.map((c) => new Date(c.openTime).toISOString())).toEqual([
        '2024-09-21T18:15:00.000Z',
        '2024-09-22T18:15:00.000Z',
      ]);
    });

    it('answers an empty list for a range with no data', async () => {
      const { status, body } = await get(`${API}/price-data/BTCUSDT/aggregated?interval=1h&from=2030-01-01`);
      expect(status).toBe(200);
      expect(body.data).toEqual([]);
      expect(body.meta).toEqual({ count: 0, limit: 500, from: null, to: null });
    });
  });

  describe('bad input', () => {
    it.each([
      ['unknown interval', `aggregated?interval=1w`, ['interval']],
      ['missing interval', `aggregated`, ['interval']],
      ['limit too large', `aggregated?interval=1h&limit=1001`, ['limit']],
      ['limit zero', `intervals?limit=0`, ['limit']],
      ['limit not a number', `?limit=ten`, ['limit']],
      ['limit empty', `?limit=`, ['limit']],
      ['limit in hexadecimal', `?limit=0x10`, ['limit']],
      ['limit in exponent notation', `intervals?limit=1e2`, ['limit']],
      ['limit with a fraction', `aggregated?interval=1h&limit=5.5`, ['limit']],
      ['limit over the sample maximum', `?limit=5001`, ['limit']],
      ['bad time', `?from=yesterday`, ['from']],
      ['from after to', `?from=2000&to=1000`, ['from']],
      ['timeZone out of range', `aggregated?interval=1h&timeZone=15:00`, ['timeZone']],
      ['timeZone with session', `aggregated?interval=session&timeZone=8`, ['timeZone']],
      [
        'every bad field at once',
        `aggregated?interval=2d&limit=-1&from=x&timeZone=zz`,
        ['interval', 'limit', 'from', 'timeZone'],
      ],
      [
        'a bad timeZone beside a bad limit',
        `aggregated?interval=1h&limit=abc&timeZone=99`,
        ['limit', 'timeZone'],
      ],
      // An unencoded + is read as a space: ` 15:00` is still +15:00, out of range.
      [
        'a bad timeZone beside a bad interval',
        `aggregated?interval=bogus&timeZone=+15:00`,
        ['interval', 'timeZone'],
      ],
      ['from after to beside a limit that is no number', `?from=2000&to=1000&limit=ten`, ['from', 'limit']],
      [
        'timeZone with session beside a limit that is no number',
        `aggregated?interval=session&timeZone=8&limit=ten`,
        ['timeZone', 'limit'],
      ],
    ])('names the bad field: %s', async (_name, path, fields) => {
      const url = `${API}/price-data/BTCUSDT${path.startsWith('?') ? '' : '/'}${path}`;
      const { status, body } = await get(url);
      expect(status).toBe(400);
      expect(body).toMatchObject({ success: false, statusCode: 400 });
      expect(body.errorSources?.map((e) => e.path).sort()).toEqual(
        expect.arrayContaining([...fields].sort()),
      );
      for (const source of body.errorSources ?? []) expect(source.message.length).toBeGreaterThan(0);
    });

    it('names every bad field of the path and the query in one answer', async () => {
      const { status, body } = await get(`${API}/price-data/b!/aggregated?interval=9m&limit=0`);
      expect(status).toBe(400);
      expect(body.errorSources?.map((e) => e.path)).toEqual(['symbol', 'limit', 'interval']);
    });

    it('reads a limit from digits only, so hexadecimal, exponents and an empty value are refused as such', async () => {
      for (const limit of ['', '0x10', '1e2', '+5', ' 5', '5.0']) {
        const { status, body } = await get(`${API}/price-data/BTCUSDT?limit=${encodeURIComponent(limit)}`);
        expect(status, limit).toBe(400);
        expect(body.errorSources, limit).toEqual([{ path: 'limit', message: 'must be a whole number' }]);
      }
      const { status, body } = await get<unknown[]>(`${API}/price-data/BTCUSDT?limit=0000000003`);
      expect(status).toBe(200);
      expect(body.meta).toMatchObject({ limit: 3 });
    });

    it('refuses impossible dates and times instead of rolling them over to the next day or month', async () => {
      for (const from of [
        '2024-02-30',
        '2023-02-29',
        '2024-04-31',
        '2024-00-10',
        '2024-09-21T24:00:00Z',
        '2024-09-21T23:60:00Z',
        '2024-09-21T23:59:60Z',
        '2024-09-21T00:00:00+24:00',
        '2024-09-21T00:00:00-01:60',
      ]) {
        const { status, body } = await get(`${API}/price-data/BTCUSDT?from=${encodeURIComponent(from)}`);
        expect(status, from).toBe(400);
        expect(body.errorSources?.map((e) => e.path)).toEqual(['from']);
      }
      const leapDay = await get(`${API}/price-data/BTCUSDT?from=2024-02-29T23:59:59.999Z`);
      expect(leapDay.status).toBe(200);
    });

    it('answers 400, not 500, for a time past year 9999, which a zone with daylight saving cannot place', async () => {
      const london = await createTestApp({ now: () => NOW, timeZone: 'Europe/London' });
      try {
        await london.store.insertSymbolsIfMissing([
          { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING', isActive: true },
        ]);
        await london.store.upsertCandles(market.candles1m);
        const read = async (query: string) => {
          const response = await london.app.inject({ url: `${API}/price-data/BTCUSDT/intervals?${query}` });
          return { status: response.statusCode, body: response.json<Envelope>() };
        };
        for (const from of ['9000000000000000', String(MAX_TIME_MS + 1)]) {
          const { status, body } = await read(`from=${from}`);
          expect(status, from).toBe(400);
          expect(body.errorSources?.map((e) => e.path)).toEqual(['from']);
        }
        // The last accepted instant reads as an empty range.
        expect(await read(`from=${MAX_TIME_MS}`)).toMatchObject({ status: 200, body: { data: [] } });
        expect(await read('from=9999-12-31T23:59:59Z')).toMatchObject({ status: 200, body: { data: [] } });
      } finally {
        await london.app.close();
      }
    });

    it('answers 404 for an unknown symbol on every price-data path', async () => {
      for (const path of ['', '/latest', '/intervals', '/aggregated?interval=1h']) {
        const { status, body } = await get(`${API}/price-data/NOPEUSDT${path}`);
        expect(status, path).toBe(404);
        expect(body).toMatchObject({ success: false, statusCode: 404, message: 'unknown symbol NOPEUSDT' });
      }
    });

    it('answers 400 for a symbol that cannot exist', async () => {
      const { status, body } = await get(`${API}/price-data/${encodeURIComponent('BTC-USDT;drop')}`);
      expect(status).toBe(400);
      expect(body.errorSources?.[0]?.path).toBe('symbol');
    });

    it('answers 404 in the envelope for an unknown route', async () => {
      const { status, body } = await get(`${API}/nothing-here`);
      expect(status).toBe(404);
      expect(body).toEqual({
        success: false,
        statusCode: 404,
        message: 'route GET /api/v1/nothing-here not found',
        errorSources: [],
      });
    });
  });

  describe('docs and metrics', () => {
    it('serves the OpenAPI document with every read path and its parameters', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/docs/json' });
      expect(response.statusCode).toBe(200);
      const doc = response.json<{
        openapi: string;
        paths: Record<string, { get?: { parameters?: { name: string; schema?: unknown }[] } }>;
      }>();
      expect(doc.openapi).toMatch(/^3\./);
      for (const path of [
        '/api/v1/system/health',
        '/api/v1/system/status',
        '/api/v1/symbols',
        '/api/v1/symbols/list',
        '/api/v1/price-data/{symbol}',
        '/api/v1/price-data/{symbol}/latest',
        '/api/v1/price-data/{symbol}/intervals',
        '/api/v1/price-data/{symbol}/aggregated',
      ]) {
        expect(doc.paths[path], path).toBeDefined();
      }
      const names = doc.paths['/api/v1/price-data/{symbol}/aggregated']?.get?.parameters?.map((p) => p.name);
      expect(names).toEqual(
        expect.arrayContaining(['symbol', 'interval', 'timeZone', 'from', 'to', 'limit']),
      );
      const limit = doc.paths['/api/v1/price-data/{symbol}']?.get?.parameters?.find(
        (p) => p.name === 'limit',
      );
      expect(limit?.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 5000, default: 500 });
    });

    it("documents every route's answers, success and error statuses with their bodies, the objects as named components", async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json<{
        openapi: string;
        paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
        components: { schemas: Record<string, unknown> };
      }>();
      expect(doc.openapi).toBe('3.1.0');
      const statuses = (path: string, method: string) =>
        Object.keys(doc.paths[`${API}${path}`]?.[method]?.responses ?? {});
      expect(statuses('/symbols', 'post')).toEqual(['201', '400', '401', '403', '409', '413', '500', '503']);
      expect(statuses('/users/login', 'post')).toEqual(['200', '400', '401', '413', '429', '500', '503']);
      expect(statuses('/price-data/{symbol}/latest', 'get')).toEqual([
        '200',
        '400',
        '404',
        '414',
        '500',
        '503',
      ]);
      for (const [path, operations] of Object.entries(doc.paths).filter(([path]) => path.startsWith(API))) {
        for (const [method, { responses }] of Object.entries(operations)) {
          for (const [status, response] of Object.entries(responses)) {
            expect(response.content, `${method} ${path} ${status}`).toHaveProperty([
              'application/json',
              'schema',
            ]);
          }
        }
      }
      expect(doc.paths[`${API}/symbols`]?.post?.responses['201']?.content).toMatchObject({
        'application/json': { schema: { properties: { data: { $ref: '#/components/schemas/Symbol' } } } },
      });
      // One component per object, none of the unused "…Input" copies the zod transform adds.
      expect(Object.keys(doc.components.schemas).sort()).toEqual([
        'BulkResult',
        'Candle',
        'Error',
        'Health',
        'LatestPrice',
        'ListMeta',
        'PriceSample',
        'Session',
        'Status',
        'Symbol',
        'User',
      ]);
    });

    it('serves a browsable docs page', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/docs' });
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('Swagger UI');
    });

    it('exposes process and HTTP figures in Prometheus format', async () => {
      await get(`${API}/symbols`);
      const response = await t.app.inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('text/plain');
      expect(response.body).toContain('process_cpu_user_seconds_total');
      expect(response.body).toMatch(
        /http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/symbols",status="200"\} \d+/,
      );
    });
  });
});
