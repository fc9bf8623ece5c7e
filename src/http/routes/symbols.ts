/**
 * Symbols (SPEC section 5): public reads, and the admin writes that add symbols and start or stop
 * tracking them. After each successful write `onSymbolsChanged` is called, so the live link picks
 * the change up at once instead of at its next poll.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { NotFoundError } from '../../domain/errors.js';
import { splitSymbol, type NewSymbol } from '../../domain/symbol.js';
import type { Store } from '../../ports/store.js';
import { BEARER_SECURITY, type AuthGuards } from '../auth.js';
import { ok } from '../envelope.js';
import { bulkResultSchema, envelope, errors, symbolSchema } from '../responses.js';
import {
  booleanQuery,
  symbolName,
  symbolParams,
  withoutControlCharacters,
  withCrossFieldCheck,
} from '../schemas.js';

/** Longest accepted `search` text, in characters. */
export const MAX_SEARCH_LENGTH = 32;
/** Most symbols in one `POST /symbols/bulk` body. */
export const MAX_BULK_SYMBOLS = 500;
/** Binance status given to a symbol an admin adds, until the live link's next exchangeInfo read. */
export const ADMIN_SYMBOL_STATUS = 'TRADING';

const ASSET_PATTERN = /^[\p{Lu}\p{Lo}\p{N}]{1,20}$/u;

const asset = z.string().trim().toUpperCase().regex(ASSET_PATTERN, 'must be an asset such as BTC');

const symbolBody = withCrossFieldCheck(
  z.strictObject({
    symbol: symbolName,
    baseAsset: asset
      .optional()
      .describe('default: the symbol without its quote asset; must begin the symbol'),
    quoteAsset: asset
      .optional()
      .describe(
        'default: the symbol without its base asset, else the longest known quote suffix (USDT, BTC, …); must end the symbol',
      ),
    isActive: z.boolean().default(true),
  }),
  ({ symbol, baseAsset, quoteAsset }, ctx, failed) => {
    // A Binance symbol is its base asset followed by its quote asset: what is given must spell it.
    if (symbol === undefined) return; // a bad symbol is named on its own; nothing to spell
    const issue = (path: 'baseAsset' | 'quoteAsset', message: string): void =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    const baseBegins = baseAsset === undefined || (symbol.startsWith(baseAsset) && symbol !== baseAsset);
    const quoteEnds = quoteAsset === undefined || (symbol.endsWith(quoteAsset) && symbol !== quoteAsset);
    if (!baseBegins) issue('baseAsset', 'must begin the symbol, with a quote asset after it');
    if (!quoteEnds) issue('quoteAsset', 'must end the symbol, with a base asset before it');
    const bothGiven = baseAsset !== undefined && quoteAsset !== undefined;
    if (bothGiven && baseBegins && quoteEnds && baseAsset + quoteAsset !== symbol)
      issue('quoteAsset', 'must be the rest of the symbol after the base asset');
    // A quote asset that can be neither given nor read from the name would be stored as "". An
    // asset given but refused was given: the caller is told what is wrong with it instead.
    const neitherGiven =
      baseAsset === undefined &&
      quoteAsset === undefined &&
      !failed.has('baseAsset') &&
      !failed.has('quoteAsset');
    if (neitherGiven && splitSymbol(symbol).quoteAsset === '')
      issue('quoteAsset', 'must be given: no known quote asset ends the symbol');
  },
);

/**
 * A bulk entry: a bare name stands for `{ symbol: name }` and is checked as that object, so every
 * bad field of an object entry is named (`symbols.0.isActive`). A bad bare name is named at the
 * entry itself (`symbols.0`), where the caller wrote it.
 */
const bulkEntry = z
  .preprocess((entry, ctx) => {
    if (typeof entry !== 'string') return entry;
    const name = symbolName.safeParse(entry);
    if (!name.success) {
      for (const issue of name.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
      return z.NEVER;
    }
    return { symbol: entry };
  }, symbolBody)
  .describe(
    'a name such as "BTCUSDT" (short for { "symbol": "BTCUSDT" }), or an object as POST /symbols takes',
  );

const bulkBody = z.strictObject({
  symbols: z
    .array(bulkEntry)
    .min(1, 'must name at least one symbol')
    .max(MAX_BULK_SYMBOLS, `must name at most ${MAX_BULK_SYMBOLS} symbols`),
});

const activationBody = z.strictObject({ isActive: z.boolean() });

type SymbolInput = z.infer<typeof symbolBody>;

/** The assets of a checked body (symbolBody): the ones given, the other one the rest of the name. */
function toNewSymbol({ symbol, baseAsset, quoteAsset, isActive }: SymbolInput): NewSymbol {
  const quote = quoteAsset ?? (baseAsset ? symbol.slice(baseAsset.length) : splitSymbol(symbol).quoteAsset);
  return {
    symbol,
    baseAsset: baseAsset ?? symbol.slice(0, symbol.length - quote.length),
    quoteAsset: quote,
    status: ADMIN_SYMBOL_STATUS,
    isActive,
  };
}

export interface SymbolRouteDeps {
  readonly store: Store;
  readonly auth: AuthGuards;
  /** Called after each successful admin change; must not throw. */
  readonly onSymbolsChanged?: (symbols: readonly string[]) => void;
}

export function symbolRoutes({ store, auth, onSymbolsChanged }: SymbolRouteDeps): FastifyPluginAsyncZod {
  const changed = (symbols: readonly string[]): void => onSymbolsChanged?.(symbols);

  return async (app) => {
    app.get(
      '/symbols',
      {
        schema: {
          tags: ['symbols'],
          summary: 'All symbols',
          querystring: z.object({
            active: booleanQuery,
            search: withoutControlCharacters(z.string().trim().min(1).max(MAX_SEARCH_LENGTH)).optional(),
          }),
          response: {
            200: envelope(z.array(symbolSchema), 'symbols', { list: true }),
            ...errors(400),
          },
        },
      },
      async (request) => {
        const symbols = await store.listSymbols(request.query);
        return ok(symbols, 'symbols', { count: symbols.length });
      },
    );

    app.get(
      '/symbols/list',
      {
        schema: {
          tags: ['symbols'],
          summary: 'Names of the active symbols',
          response: {
            200: envelope(z.array(z.string()), 'active symbols', { list: true }),
            ...errors(),
          },
        },
      },
      async () => {
        const symbols = await store.listSymbols({ active: true });
        return ok(
          symbols.map((record) => record.symbol),
          'active symbols',
          { count: symbols.length },
        );
      },
    );

    app.post(
      '/symbols',
      {
        schema: {
          tags: ['symbols'],
          summary: 'Add a symbol (admin); tracking starts without a restart; 409 if it exists',
          security: BEARER_SECURITY,
          body: symbolBody,
          response: {
            201: envelope(symbolSchema, 'symbol created'),
            ...errors(400, 401, 403, 409, 413),
          },
        },
        onRequest: auth.requireAdmin,
      },
      async (request, reply) => {
        const created = await store.insertSymbol(toNewSymbol(request.body));
        changed([created.symbol]);
        return reply.code(201).send(ok(created, 'symbol created', undefined, 201));
      },
    );

    app.post(
      '/symbols/bulk',
      {
        schema: {
          tags: ['symbols'],
          summary: `Add up to ${MAX_BULK_SYMBOLS} symbols (admin); existing ones are skipped`,
          security: BEARER_SECURITY,
          body: bulkBody,
          response: {
            201: envelope(bulkResultSchema, 'symbols added'),
            ...errors(400, 401, 403, 413),
          },
        },
        onRequest: auth.requireAdmin,
      },
      async (request, reply) => {
        // The first mention of a symbol wins; later ones would only be reported as skipped.
        const unique = new Map<string, NewSymbol>();
        for (const input of request.body.symbols) {
          const symbol = toNewSymbol(input);
          if (!unique.has(symbol.symbol)) unique.set(symbol.symbol, symbol);
        }
        const result = await store.insertSymbolsIfMissing([...unique.values()]);
        if (result.created.length > 0) changed(result.created);
        return reply.code(201).send(ok(result, 'symbols added', undefined, 201));
      },
    );

    app.patch(
      '/symbols/:symbol',
      {
        schema: {
          tags: ['symbols'],
          summary: 'Start or stop tracking a symbol (admin)',
          security: BEARER_SECURITY,
          params: symbolParams,
          body: activationBody,
          response: {
            200: envelope(symbolSchema, 'symbol activated or deactivated'),
            ...errors(400, 401, 403, 404, 413, 414),
          },
        },
        onRequest: auth.requireAdmin,
      },
      async (request) => {
        const { symbol } = request.params;
        const updated = await store.setSymbolActive(symbol, request.body.isActive);
        if (!updated) throw new NotFoundError(`unknown symbol ${symbol}`);
        changed([symbol]);
        return ok(updated, updated.isActive ? 'symbol activated' : 'symbol deactivated');
      },
    );
  };
}
