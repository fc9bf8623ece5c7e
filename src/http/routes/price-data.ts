/** The four `/price-data` reads (SPEC section 5). */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { candleToJson, type Candle } from '../../domain/candle.js';
import { NotFoundError } from '../../domain/errors.js';
import { parseTimeZoneOffset, SESSION_INTERVAL, STANDARD_INTERVAL_NAMES } from '../../domain/intervals.js';
import type { CandleReader } from '../../market/candles.js';
import type { PriceReader } from '../../market/prices.js';
import type { Store } from '../../ports/store.js';
import { ok } from '../envelope.js';
import { candleSchema, envelope, errors, latestPriceSchema, priceSampleSchema } from '../responses.js';
import { checkRange, limitQuery, symbolParams, timeQuery, withCrossFieldCheck } from '../schemas.js';

export interface PriceDataRouteDeps {
  readonly store: Store;
  readonly candles: CandleReader;
  readonly prices: PriceReader;
}

const toNumber = Number.parseFloat;

const rangeFields = (defaultLimit: number, maxLimit: number) =>
  z.object({ from: timeQuery, to: timeQuery, limit: limitQuery(defaultLimit, maxLimit) });

const rangeQuery = (defaultLimit: number, maxLimit: number) =>
  withCrossFieldCheck(rangeFields(defaultLimit, maxLimit), checkRange);

const INTERVAL_NAMES = [...STANDARD_INTERVAL_NAMES, SESSION_INTERVAL] as const;

/** Binance's `timeZone`, parsed to its offset in ms. */
const timeZoneQuery = z
  .string()
  .max(8)
  .transform((text, ctx) => {
    try {
      return parseTimeZoneOffset(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  })
  .optional()
  .describe('Binance timeZone offset, e.g. -1:00, 8, 05:45; standard intervals only');

const aggregatedQuery = withCrossFieldCheck(
  rangeFields(500, 1000).extend({
    interval: z.enum(INTERVAL_NAMES, { message: `must be one of ${INTERVAL_NAMES.join(', ')}` }),
    timeZone: timeZoneQuery,
  }),
  (query, ctx) => {
    checkRange(query, ctx);
    if (query.timeZone !== undefined && query.interval === SESSION_INTERVAL) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeZone'],
        message: 'does not apply to session, which uses INTERVAL_TIMEZONE',
      });
    }
  },
);

function candleMeta(candles: readonly Candle[], limit: number) {
  return {
    count: candles.length,
    limit,
    from: candles[0]?.openTime ?? null,
    to: candles.at(-1)?.closeTime ?? null,
  };
}

export function priceDataRoutes({ store, candles, prices }: PriceDataRouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    const knownSymbol = async (symbol: string): Promise<string> => {
      if (!(await store.getSymbol(symbol))) throw new NotFoundError(`unknown symbol ${symbol}`);
      return symbol;
    };

    app.get(
      '/price-data/:symbol',
      {
        schema: {
          tags: ['price-data'],
          summary: '1-second price samples, ascending',
          params: symbolParams,
          querystring: rangeQuery(500, 5000),
          response: {
            200: envelope(z.array(priceSampleSchema), 'price samples', { list: true }),
            ...errors(400, 404, 414),
          },
        },
      },
      async (request) => {
        const symbol = await knownSymbol(request.params.symbol);
        const samples = await prices.samples({ symbol, ...request.query });
        return ok(
          samples.map((sample) => ({ symbol, price: toNumber(sample.price), timestamp: sample.timestamp })),
          'price samples',
          {
            count: samples.length,
            limit: request.query.limit,
            from: samples[0]?.timestamp ?? null,
            to: samples.at(-1)?.timestamp ?? null,
          },
        );
      },
    );

    app.get(
      '/price-data/:symbol/latest',
      {
        schema: {
          tags: ['price-data'],
          summary: 'Latest price with 24 h statistics',
          params: symbolParams,
          response: { 200: envelope(latestPriceSchema, 'latest price'), ...errors(400, 404, 414) },
        },
      },
      async (request) => {
        const latest = await prices.latest(await knownSymbol(request.params.symbol));
        return ok(
          {
            ...latest,
            price: toNumber(latest.price),
            open24h: toNumber(latest.open24h),
            high24h: toNumber(latest.high24h),
            low24h: toNumber(latest.low24h),
            volume24h: toNumber(latest.volume24h),
            quoteVolume24h: toNumber(latest.quoteVolume24h),
            change24h: toNumber(latest.change24h),
          },
          'latest price',
        );
      },
    );

    app.get(
      '/price-data/:symbol/intervals',
      {
        schema: {
          tags: ['price-data'],
          summary: 'Session candles ascending, the forming one last',
          params: symbolParams,
          querystring: rangeQuery(6, 1000),
          response: {
            200: envelope(z.array(candleSchema), 'session candles', { list: true }),
            ...errors(400, 404, 414),
          },
        },
      },
      async (request) => {
        const symbol = await knownSymbol(request.params.symbol);
        const found = await candles.read({ symbol, interval: SESSION_INTERVAL, ...request.query });
        return ok(found.map(candleToJson), 'session candles', candleMeta(found, request.query.limit));
      },
    );

    app.get(
      '/price-data/:symbol/aggregated',
      {
        schema: {
          tags: ['price-data'],
          summary: 'Candles of a standard interval or of the session interval, ascending',
          params: symbolParams,
          querystring: aggregatedQuery,
          response: {
            200: envelope(z.array(candleSchema), 'candles', { list: true }),
            ...errors(400, 404, 414),
          },
        },
      },
      async (request) => {
        const symbol = await knownSymbol(request.params.symbol);
        const { timeZone: offsetMs = 0, ...query } = request.query;
        const found = await candles.read({ symbol, ...query, offsetMs });
        return ok(found.map(candleToJson), `${query.interval} candles`, candleMeta(found, query.limit));
      },
    );
  };
}
