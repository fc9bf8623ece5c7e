/** Public symbol reads (SPEC section 5). */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Store } from '../../ports/store.js';
import { ok } from '../envelope.js';
import { booleanQuery } from '../schemas.js';

/** Longest accepted `search` text, in characters. */
export const MAX_SEARCH_LENGTH = 32;

export function symbolRoutes({ store }: { store: Store }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/symbols',
      {
        schema: {
          tags: ['symbols'],
          summary: 'All symbols',
          querystring: z.object({
            active: booleanQuery,
            search: z.string().trim().min(1).max(MAX_SEARCH_LENGTH).optional(),
          }),
        },
      },
      async (request) => {
        const symbols = await store.listSymbols(request.query);
        return ok(symbols, 'symbols', { count: symbols.length });
      },
    );

    app.get(
      '/symbols/list',
      { schema: { tags: ['symbols'], summary: 'Names of the active symbols' } },
      async () => {
        const symbols = await store.listSymbols({ active: true });
        return ok(
          symbols.map((record) => record.symbol),
          'active symbols',
          { count: symbols.length },
        );
      },
    );
  };
}
