/**
 * `npm run seed:symbols` (SPEC section 8): stores the tracked universe (SPEC section 3) as active
 * symbols. With SYMBOLS set, exactly those; otherwise the top TRACK_TOP TRADING USDT spot pairs by
 * 24 h quote volume from exchangeInfo and ticker/24hr (market/universe.ts). Every symbol of the
 * universe already stored inactive is activated, one an import or a backfill stored (they store new
 * symbols so) and one an admin deactivated alike: running the command asks for that universe.
 * Running it twice changes nothing.
 *
 * Exit codes: 0 when stored; 1 on any error (config, store, exchange); 2 for a usage error.
 */
import { parseArgs } from 'node:util';
import { openStore } from '../adapters/create-store.js';
import { createRestClient, type RestClient } from '../binance/rest-client.js';
import type { ExchangeSymbol } from '../binance/rest-wire.js';
import { EXIT_OK, EXIT_USAGE, runCli } from './run-cli.js';
import { loadConfigFromProcess, type Config } from '../config.js';
import { splitSymbol, type NewSymbol } from '../domain/symbol.js';
import { activateStored, selectTopSymbols } from '../market/universe.js';

/** A name whose assets come from exchangeInfo keeps its status; one Binance did not list is assumed trading. */
const ASSUMED_STATUS = 'TRADING';

const USAGE = `usage: npm run seed:symbols
Stores SYMBOLS (when set) or the top TRACK_TOP USDT pairs by 24 h quote volume, fetched from
BINANCE_REST_URL, as active symbols in DATABASE_URL (one already stored inactive is activated).
`;

/** SYMBOLS as given, with the assets Binance reports for them; a name it does not list is split by its quote suffix. */
function namedSymbols(
  names: readonly string[],
  listed: readonly ExchangeSymbol[],
): { symbols: NewSymbol[]; unlisted: string[] } {
  const byName = new Map(listed.map((entry) => [entry.symbol, entry]));
  const unlisted: string[] = [];
  const symbols = names.map((symbol): NewSymbol => {
    const known = byName.get(symbol);
    if (known) {
      const { baseAsset, quoteAsset, status } = known;
      return { symbol, baseAsset, quoteAsset, status, isActive: true };
    }
    unlisted.push(symbol);
    return { symbol, ...splitSymbol(symbol), status: ASSUMED_STATUS, isActive: true };
  });
  return { symbols, unlisted };
}

async function universe(config: Config, rest: RestClient): Promise<NewSymbol[]> {
  const info = await rest.exchangeInfo();
  if (info.skipped > 0) {
    process.stderr.write(
      `warning: ${info.skipped} exchangeInfo entries skipped: ${info.skipExamples.join('; ')}\n`,
    );
  }
  if (config.symbols) {
    const { symbols, unlisted } = namedSymbols(config.symbols, info.items);
    if (unlisted.length > 0) {
      // exchangeInfo is asked for TRADING spot pairs only, so a halted or delisted name lands here too.
      process.stderr.write(
        `warning: not listed as trading by the exchange, assets taken from the name: ${unlisted.join(', ')}\n`,
      );
    }
    return symbols;
  }
  const tickers = await rest.ticker24h();
  return selectTopSymbols(info.items, tickers.items, config.trackTop);
}

async function main(args: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: { help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return EXIT_OK;
    }
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return EXIT_USAGE;
  }
  const config = loadConfigFromProcess();
  const rest = createRestClient({ baseUrl: config.binanceRestUrl });
  // Fetched before the store opens: a failing exchange leaves no database file behind.
  const symbols = await universe(config, rest);
  const store = await openStore(config.databaseUrl);
  try {
    const { created, skipped } = await store.insertSymbolsIfMissing(symbols);
    const activated = await activateStored(store, skipped);
    if (created.length > 0) process.stdout.write(`new: ${created.join(', ')}\n`);
    if (activated.length > 0) process.stdout.write(`activated: ${activated.join(', ')}\n`);
    process.stdout.write(
      `stored ${created.length} new symbols, activated ${activated.length}, ` +
        `${skipped.length - activated.length} already active\n`,
    );
  } finally {
    await store.close();
  }
  return EXIT_OK;
}

await runCli(main);
