/**
 * PostgresStore: the store on a PostgreSQL server (node-postgres, a connection pool). The same
 * tables and rules as the SQLite store (../sqlite/store.ts): every write method runs in one
 * transaction, batches go in one statement (`unnest` of column arrays), and the candle merge rule
 * of domain/candle.ts is applied in SQL. Epoch ms are BIGINT, read back as numbers (all below 2^53);
 * decimals are canonical text.
 *
 * Fencing: a fenced write reads its fence `FOR SHARE` inside its transaction, so `advanceFence`
 * (an UPDATE of that row) waits for the write to commit, and a write that starts after a newer
 * token sees it and throws FencedError.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Candle, StoredCandle } from '../../domain/candle.js';
import { mergeCandle } from '../../domain/candle.js';
import { ConflictError, UnavailableError } from '../../domain/errors.js';
import { sampleSecond, type PriceSample } from '../../domain/price.js';
import {
  buildRollup,
  RESOLUTION_MS,
  ROLLUP_SOURCES,
  touchedBuckets,
  type Resolution,
  type ResolutionRange,
} from '../../domain/rollups.js';
import type { NewSymbol, SymbolRecord } from '../../domain/symbol.js';
import type {
  CandleQuery,
  CandleSpan,
  NewUser,
  PriceSampleQuery,
  RepairGap,
  Store,
  SymbolFilter,
  UserChanges,
  UserRecord,
  WriteFence,
} from '../../ports/store.js';
import {
  CANDLE_FIELDS_COMPARED,
  checkFenceToken,
  FENCE_KEY_PREFIX,
  toCandle,
  toSymbol,
  toUser,
  type CandleTuple,
  type SymbolRow,
  type UserRow,
} from '../sql-rows.js';
import { MIGRATIONS } from './migrations.js';

/** Connections the pool opens at most: writes are serialized by the service, reads are short. */
export const POOL_MAX_CONNECTIONS = 10;
/** How long a query waits for a free connection or a new one, in ms, before failing as unavailable. */
export const CONNECT_TIMEOUT_MS = 5000;
/** How long one statement may run, in ms (the server cancels it after this). */
export const STATEMENT_TIMEOUT_MS = 30_000;
/**
 * How long the client waits for any answer, in ms: past the server's own limit, so it fires only
 * when the server cannot answer at all (a network partition, with no reset to end the socket).
 */
export const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 5000;
/** The advisory lock instances starting together take turns on while they migrate. */
const MIGRATION_LOCK_KEY = 4_242_001;
/**
 * The class of the advisory locks that serialize candle writes per symbol (the key is the
 * symbol's hash): two writes reading one rollup's rows at once would each miss the other's minute.
 */
const CANDLE_LOCK_CLASS = 4_242_002;
/** PostgreSQL's unique_violation (SQLSTATE 23505). */
const UNIQUE_VIOLATION = '23505';
/**
 * SQLSTATE classes and codes of a server that is gone, going, full or not the primary: connection
 * exceptions (08), operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
 * connect now), 53300 too many connections, 25006 read-only transaction (a standby after failover).
 */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[123]$|53300$|25006$)/;
/**
 * What a client hears for SQLSTATE class 53, insufficient resources, of a server that is up: it
 * takes no write now (disk_full, out_of_memory, configuration_limit_exceeded), as SQLite's
 * SQLITE_FULL; the transaction is rolled back as for any refused statement.
 */
const OUT_OF_RESOURCES_BECAUSE: Readonly<Record<string, string>> = {
  '53100': 'the database is full; writes are refused',
};
const OUT_OF_RESOURCES_SQLSTATE = /^53/;
/** Node's socket and name-lookup errors of a server that cannot be reached. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** BIGINT (int8) as a number: every value stored is an epoch ms, a count or a token, all below 2^53. */
const TYPES = new pg.TypeOverrides();
TYPES.setTypeParser(pg.types.builtins.INT8, 'text', Number);

const CANDLE_FIELDS = `open_time, close_time, open, high, low, close, volume, quote_volume, trades,
  taker_buy_volume, taker_buy_quote_volume, closed`;
/**
 * Inserts candles given as one array per column ($1 … $15), each row's resolution included; what
 * follows ON CONFLICT decides what an existing row keeps.
 */
const INSERT_CANDLES = `INSERT INTO candles (symbol, resolution, ${CANDLE_FIELDS}, event_time)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::text[],
    $14::boolean[], $15::bigint[])
  ON CONFLICT (symbol, resolution, open_time) DO UPDATE SET close_time = excluded.close_time,
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, quote_volume = excluded.quote_volume, trades = excluded.trades,
    taker_buy_volume = excluded.taker_buy_volume, taker_buy_quote_volume = excluded.taker_buy_quote_volume,
    closed = excluded.closed, event_time = excluded.event_time`;

/** The column arrays of INSERT_CANDLES. */
function candleColumns<C extends Candle>(
  candles: readonly C[],
  eventTime: (candle: C) => number,
): unknown[][] {
  return [
    candles.map((c) => c.symbol),
    candles.map((c) => c.interval),
    candles.map((c) => c.openTime),
    candles.map((c) => c.closeTime),
    candles.map((c) => c.open),
    candles.map((c) => c.high),
    candles.map((c) => c.low),
    candles.map((c) => c.close),
    candles.map((c) => c.volume),
    candles.map((c) => c.quoteVolume),
    candles.map((c) => c.trades),
    candles.map((c) => c.takerBuyVolume),
    candles.map((c) => c.takerBuyQuoteVolume),
    candles.map((c) => c.closed),
    candles.map(eventTime),
  ];
}

/** An error's code: a SQLSTATE from the server, or Node's socket error code; '' for none. */
function codeOf(error: unknown): string {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

/** A server that is down, restarting or unreachable: the service answers 503 instead of 500. */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = codeOf(error);
  if (UNAVAILABLE_SQLSTATE.test(code) || UNREACHABLE_CODES.has(code)) return true;
  // node-postgres's own errors: a pool that cannot connect, a connection that dropped, no answer.
  return /timeout exceeded when trying to connect|Connection terminated|Query read timeout/i.test(
    error.message,
  );
}

/** A store error as the service reports it: UnavailableError (HTTP 503) for what is no request's fault. */
export function translate(error: unknown): unknown {
  if (isUnavailable(error)) {
    return new UnavailableError('the database is unreachable; try again shortly', { cause: error });
  }
  const code = codeOf(error);
  if (OUT_OF_RESOURCES_SQLSTATE.test(code)) {
    const because = OUT_OF_RESOURCES_BECAUSE[code] ?? 'the database is out of resources; try again shortly';
    return new UnavailableError(because, { cause: error });
  }
  return error;
}

export interface PostgresStoreOptions {
  /** A `postgres://` or `postgresql://` URL. */
  readonly url: string;
  readonly now?: () => number;
  /** Told of errors of idle connections (a restart of the server), which would otherwise be lost. */
  readonly onIdleError?: (error: Error) => void;
  /** Tests: QUERY_TIMEOUT_MS. */
  readonly queryTimeoutMs?: number;
}

export class PostgresStore implements Store {
  readonly driver = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #now: () => number;

  private constructor(pool: pg.Pool, now: () => number) {
    this.#pool = pool;
    this.#now = now;
  }

  /** Connects, applies the missing migrations and resolves with the store. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: POOL_MAX_CONNECTIONS,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      query_timeout: options.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
      keepAlive: true,
      types: TYPES,
    });
    // An idle connection that the server drops emits here; without a listener it would crash.
    pool.on('error', (error) => options.onIdleError?.(error));
    const store = new PostgresStore(pool, options.now ?? Date.now);
    try {
      await store.#migrate();
    } catch (error) {
      await pool.end();
      if (!(error instanceof UnavailableError)) throw error;
      // The cause names the host and port at most, never the URL's password. An AggregateError
      // (every address of a name refused) has no message of its own, only a code.
      const cause = error.cause instanceof Error ? error.cause : error;
      const code = (cause as { code?: unknown }).code;
      const reason = cause.message || (typeof code === 'string' ? code : 'no answer');
      throw new UnavailableError(`PostgreSQL at DATABASE_URL is unreachable: ${reason}`, { cause });
    }
    return store;
  }

  /**
   * Applies the missing migrations in one transaction under an advisory lock: instances starting
   * together take turns, and each sees what the one before it applied.
   */
  async #migrate(): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
      );
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((row) => row.version));
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          this.#now(),
        ]);
      }
    });
  }

  /** The schema versions applied, ascending (for status and tests). */
  async schemaVersions(): Promise<number[]> {
    const { rows } = await this.#query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    return rows.map((row) => row.version);
  }

  /** Size of the database on disk in bytes (tables, indexes and their free space). */
  async sizeBytes(): Promise<number> {
    const { rows } = await this.#query<{ size: number }>(
      'SELECT pg_database_size(current_database()) AS size',
    );
    return rows[0]!.size;
  }

  async #query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>(sql, params);
    } catch (error) {
      throw translate(error);
    }
  }

  /** Rows as arrays, not objects keyed by column: reads of thousands of rows stay cheap. */
  async #queryArrays<R extends unknown[]>(text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.#pool.query<R>({ text, values, rowMode: 'array' })).rows;
    } catch (error) {
      throw translate(error);
    }
  }

  /** Runs `work` in one transaction on one connection: committed if it resolves, rolled back if not. */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw translate(error);
    }
    // A checked-out connection has no listener of the pool's: a server going away mid-transaction
    // would emit `error` unheard and end the process. Its queries fail too, which is what we report.
    let broken: Error | undefined;
    const onError = (error: Error): void => {
      broken = error;
    };
    client.on('error', onError);
    const release = (error?: Error): void => {
      client.off('error', onError);
      // A connection that failed is destroyed, not returned to the pool.
      client.release(error ?? broken);
    };
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      release();
      return result;
    } catch (error) {
      // A connection that dropped, or a server that stopped answering, takes no ROLLBACK: it would
      // wait out a second query timeout behind the one that timed out (node-postgres still counts
      // it as running). Destroyed instead, the session ends and the server rolls back by itself.
      if (broken !== undefined || isUnavailable(error)) {
        release(error instanceof Error ? error : new Error(String(error)));
        throw translate(error);
      }
      const rollback = await client.query('ROLLBACK').then(
        () => undefined,
        (rollbackError: unknown) => rollbackError,
      );
      release(rollback instanceof Error ? rollback : undefined);
      throw translate(error);
    }
  }

  /** Inside a write's transaction: throws FencedError unless the fence's token is still current. */
  async #checkFence(client: pg.PoolClient, fence: WriteFence | undefined): Promise<void> {
    if (!fence) return;
    const { rows } = await client.query<{ value: string }>(
      'SELECT value FROM settings WHERE key = $1 FOR SHARE',
      [FENCE_KEY_PREFIX + fence.name],
    );
    const current = Number(rows[0]?.value ?? '0');
    checkFenceToken(fence, current);
  }

  async ping(): Promise<void> {
    await this.#query('SELECT 1');
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end();
  }

  async insertSymbol(symbol: NewSymbol): Promise<SymbolRecord> {
    const { rows } = await this.#query<SymbolRow>(
      `INSERT INTO symbols (symbol, base_asset, quote_asset, status, is_active, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING *`,
      [symbol.symbol, symbol.baseAsset, symbol.quoteAsset, symbol.status, symbol.isActive, this.#now()],
    );
    if (!rows[0]) throw new ConflictError(`symbol ${symbol.symbol} already exists`);
    return toSymbol(rows[0]);
  }

  async insertSymbolsIfMissing(
    symbols: readonly NewSymbol[],
  ): Promise<{ created: string[]; skipped: string[] }> {
    if (symbols.length === 0) return { created: [], skipped: [] };
    const { rows } = await this.#query<{ symbol: string }>(
      `INSERT INTO symbols (symbol, base_asset, quote_asset, status, is_active, created_at)
       SELECT *, $6::bigint FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[])
       ON CONFLICT DO NOTHING RETURNING symbol`,
      [
        symbols.map((s) => s.symbol),
        symbols.map((s) => s.baseAsset),
        symbols.map((s) => s.quoteAsset),
        symbols.map((s) => s.status),
        symbols.map((s) => s.isActive),
        this.#now(),
      ],
    );
    const inserted = new Set(rows.map((row) => row.symbol));
    const created: string[] = [];
    const skipped: string[] = [];
    // A name given twice is created once and skipped after, as one insert after another would.
    for (const { symbol } of symbols) {
      if (inserted.delete(symbol)) created.push(symbol);
      else skipped.push(symbol);
    }
    return { created, skipped };
  }

  async getSymbol(symbol: string): Promise<SymbolRecord | undefined> {
    const { rows } = await this.#query<SymbolRow>('SELECT * FROM symbols WHERE symbol = $1', [symbol]);
    return rows[0] && toSymbol(rows[0]);
  }

  async listSymbols(filter: SymbolFilter = {}): Promise<SymbolRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.active !== undefined) {
      params.push(filter.active);
      where.push(`is_active = $${params.length}`);
    }
    if (filter.search) {
      // strpos() is a plain substring test: no LIKE wildcards to escape.
      params.push(filter.search.toUpperCase());
      where.push(`strpos(symbol, $${params.length}) > 0`);
    }
    const { rows } = await this.#query<SymbolRow>(
      `SELECT * FROM symbols ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY symbol`,
      params,
    );
    return rows.map(toSymbol);
  }

  async setSymbolActive(symbol: string, isActive: boolean): Promise<SymbolRecord | undefined> {
    const { rows } = await this.#query<SymbolRow>(
      'UPDATE symbols SET is_active = $1 WHERE symbol = $2 RETURNING *',
      [isActive, symbol],
    );
    return rows[0] && toSymbol(rows[0]);
  }

  async setSymbolStatus(symbol: string, status: string): Promise<SymbolRecord | undefined> {
    const { rows } = await this.#query<SymbolRow>(
      'UPDATE symbols SET status = $1 WHERE symbol = $2 RETURNING *',
      [status, symbol],
    );
    return rows[0] && toSymbol(rows[0]);
  }

  async insertPriceSamples(samples: readonly PriceSample[], fence?: WriteFence): Promise<void> {
    // One row per (symbol, second) per statement: the latest sample of a second wins (ties: the first).
    const latest = new Map<string, PriceSample>();
    for (const sample of samples) {
      const key = `${sample.symbol}\u0000${sampleSecond(sample.timestamp)}`;
      const held = latest.get(key);
      if (!held || sample.timestamp > held.timestamp) latest.set(key, sample);
    }
    const rows = [...latest.values()];
    await this.#transaction(async (client) => {
      await this.#checkFence(client, fence);
      if (rows.length === 0) return;
      await client.query(
        `INSERT INTO price_samples (symbol, second, timestamp, price)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[])
         ON CONFLICT (symbol, second) DO UPDATE SET timestamp = excluded.timestamp, price = excluded.price
         WHERE excluded.timestamp > price_samples.timestamp`,
        [
          rows.map((s) => s.symbol),
          rows.map((s) => sampleSecond(s.timestamp)),
          rows.map((s) => s.timestamp),
          rows.map((s) => s.price),
        ],
      );
    });
  }

  async listPriceSamples(query: PriceSampleQuery): Promise<PriceSample[]> {
    const direction = query.order === 'asc' ? 'ASC' : 'DESC';
    const from = query.from ?? 0;
    const to = query.to ?? Number.MAX_SAFE_INTEGER;
    const { rows } = await this.#query<{ timestamp: number; price: string }>(
      `SELECT timestamp, price FROM price_samples
       WHERE symbol = $1 AND second BETWEEN $2 AND $3 AND timestamp BETWEEN $4 AND $5
       ORDER BY second ${direction} LIMIT $6`,
      [query.symbol, sampleSecond(from), sampleSecond(to), from, to, query.limit],
    );
    return rows.map((row) => ({ symbol: query.symbol, price: row.price, timestamp: row.timestamp }));
  }

  async deletePriceSamplesBefore(before: number, limit: number): Promise<number> {
    // Oldest first along price_samples_by_second, so a bounded delete starts where the old rows are.
    const result = await this.#query(
      `DELETE FROM price_samples WHERE (symbol, second) IN
         (SELECT symbol, second FROM price_samples WHERE second < $1 ORDER BY second LIMIT $2)`,
      [sampleSecond(before), limit],
    );
    return result.rowCount ?? 0;
  }

  async upsertCandles(candles: readonly StoredCandle[], fence?: WriteFence): Promise<void> {
    if (candles.length === 0) return;
    await this.#writeCandles(candles, fence, false);
  }

  async replaceCandles(candles: readonly StoredCandle[]): Promise<number> {
    if (candles.length === 0) return 0;
    return this.#writeCandles(candles, undefined, true);
  }

  /** 1m candles by the merge rule, or closed ones over what is stored (`replace`); returns rows written. */
  async #writeCandles(
    candles: readonly StoredCandle[],
    fence: WriteFence | undefined,
    replace: boolean,
  ): Promise<number> {
    // One row per key per statement: the batch's own updates merged first, by the same rule (a
    // closed one replacing, when replacing), as row-by-row writes would leave them.
    const merged = new Map<string, StoredCandle>();
    for (const candle of candles) {
      const key = `${candle.symbol}\u0000${candle.interval}\u0000${candle.openTime}`;
      merged.set(key, replace && candle.closed ? candle : mergeCandle(merged.get(key), candle));
    }
    const rows = [...merged.values()];
    const closed = replace ? rows.filter((row) => row.closed) : [];
    const merging = replace ? rows.filter((row) => !row.closed) : rows;
    return this.#transaction(async (client) => {
      await this.#checkFence(client, fence);
      // One candle write per symbol at a time, as SQLite's single writer gives: a rollup is rebuilt
      // from rows read under READ COMMITTED, which would not see another write's minute in flight.
      // Taken in key order, so two writes of several symbols cannot deadlock.
      await client.query(
        `SELECT pg_advisory_xact_lock($1, key)
         FROM (SELECT DISTINCT hashtext(symbol) AS key FROM unnest($2::text[]) AS symbol ORDER BY key) AS keys`,
        [CANDLE_LOCK_CLASS, [...new Set(rows.map((row) => row.symbol))]],
      );
      // The merge rule of domain/candle.ts shouldReplace; RETURNING names the rows it wrote.
      const written: { symbol: string; open_time: number }[] = [];
      if (merging.length > 0) {
        const result = await client.query<{ symbol: string; open_time: number }>(
          `${INSERT_CANDLES}
           WHERE candles.closed = false AND (excluded.closed OR excluded.event_time > candles.event_time)
           RETURNING symbol, open_time`,
          candleColumns(merging, (c) => c.eventTime),
        );
        written.push(...result.rows);
      }
      // replaceCandles: a closed candle over any stored row whose fields differ (event time aside).
      if (closed.length > 0) {
        const result = await client.query<{ symbol: string; open_time: number }>(
          `${INSERT_CANDLES}
           WHERE (${CANDLE_FIELDS_COMPARED.map((field) => `candles.${field}`).join(', ')})
             IS DISTINCT FROM (${CANDLE_FIELDS_COMPARED.map((field) => `excluded.${field}`).join(', ')})
           RETURNING symbol, open_time`,
          candleColumns(closed, (c) => c.eventTime),
        );
        written.push(...result.rows);
      }
      const touched = new Map<string, number[]>();
      for (const row of written) {
        const times = touched.get(row.symbol) ?? [];
        times.push(row.open_time);
        touched.set(row.symbol, times);
      }
      await this.#rewriteRollups(client, touched);
      return written.length;
    });
  }

  /** Rebuilds every rollup over the 1m rows written: per level, one read and one write. */
  async #rewriteRollups(
    client: pg.PoolClient,
    baseOpenTimes: ReadonlyMap<string, readonly number[]>,
  ): Promise<void> {
    let changed: ReadonlyMap<string, readonly number[]> = baseOpenTimes;
    for (const { resolution, source } of ROLLUP_SOURCES) {
      const bucketMs = RESOLUTION_MS[resolution];
      const buckets = new Map<string, number[]>();
      for (const [symbol, times] of changed) buckets.set(symbol, touchedBuckets(times, resolution));
      const ranges = [...buckets].flatMap(([symbol, opens]) => opens.map((bucket) => ({ symbol, bucket })));
      if (ranges.length === 0) return;
      // One index range scan per bucket: LATERAL, kept from being flattened into a join by
      // OFFSET 0. As a join, on statistics that do not know the rows this transaction wrote, the
      // planner hashes on the symbol and tests every row of a symbol against every bucket, quadratic
      // in a long one-symbol batch (a monthly import file took 12 s, 100 000 minutes hit the
      // statement timeout).
      const { rows } = await client.query<[symbol: string, bucket: number, ...CandleTuple]>({
        text: `SELECT b.symbol, b.bucket, c.*
          FROM unnest($1::text[], $2::bigint[]) AS b(symbol, bucket)
          CROSS JOIN LATERAL (
            SELECT ${CANDLE_FIELDS} FROM candles
            WHERE symbol = b.symbol AND resolution = $3 AND open_time BETWEEN b.bucket AND b.bucket + $4 - 1
            OFFSET 0
          ) AS c
          ORDER BY b.symbol, c.open_time`,
        values: [ranges.map((r) => r.symbol), ranges.map((r) => r.bucket), source, bucketMs],
        rowMode: 'array',
      });
      const sources = new Map<string, Candle[]>();
      for (const [symbol, bucket, ...fields] of rows) {
        const key = `${symbol}\u0000${bucket}`;
        const list = sources.get(key) ?? [];
        list.push(toCandle(symbol, source, fields));
        sources.set(key, list);
      }
      const rollups = [...sources.values()]
        .map((list) => buildRollup(list, resolution))
        .filter((rollup) => rollup !== undefined);
      if (rollups.length > 0) {
        const now = this.#now();
        await client.query(
          INSERT_CANDLES,
          candleColumns(rollups, () => now),
        );
      }
      changed = buckets;
    }
  }

  async listCandles(query: CandleQuery): Promise<Candle[]> {
    const rows = await this.#queryArrays<CandleTuple>(
      `SELECT ${CANDLE_FIELDS} FROM candles
       WHERE symbol = $1 AND resolution = $2 AND open_time BETWEEN $3 AND $4 ORDER BY open_time`,
      [query.symbol, query.resolution, query.from, query.to],
    );
    return rows.map((row) => toCandle(query.symbol, query.resolution, row));
  }

  async listCandleRanges(symbol: string, ranges: readonly ResolutionRange[]): Promise<Candle[]> {
    // One index range scan per range, the resolution carried along as the last column. OFFSET 0
    // keeps the planner from flattening the LATERAL into a hash join on the resolution that tests
    // every row of the symbol against every range: 3.5 s instead of 15 ms for a year of 1d at
    // `timeZone=0:01`, with fresh statistics or without.
    const rows = await this.#queryArrays<[...CandleTuple, Resolution]>(
      `SELECT c.*, r.resolution
       FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS r(resolution, from_time, to_time)
       CROSS JOIN LATERAL (
         SELECT ${CANDLE_FIELDS} FROM candles
         WHERE symbol = $1 AND resolution = r.resolution AND open_time BETWEEN r.from_time AND r.to_time
         OFFSET 0
       ) AS c
       ORDER BY c.open_time`,
      [symbol, ranges.map((r) => r.resolution), ranges.map((r) => r.from), ranges.map((r) => r.to)],
    );
    return rows.map((row) => toCandle(symbol, row[12], row as unknown as CandleTuple));
  }

  async countCandles(query: CandleQuery): Promise<number> {
    const { rows } = await this.#query<{ count: number }>(
      `SELECT COUNT(*) AS count FROM candles
       WHERE symbol = $1 AND resolution = $2 AND open_time BETWEEN $3 AND $4`,
      [query.symbol, query.resolution, query.from, query.to],
    );
    return rows[0]!.count;
  }

  async candleSpan(symbol: string): Promise<CandleSpan | undefined> {
    const { rows } = await this.#query<{ first: number | null; last: number | null }>(
      `SELECT MIN(open_time) AS first, MAX(open_time) AS last FROM candles WHERE symbol = $1 AND resolution = '1m'`,
      [symbol],
    );
    const { first, last } = rows[0]!;
    return first === null || last === null ? undefined : { firstOpenTime: first, lastOpenTime: last };
  }

  async nearestOpenTime(symbol: string, time: number, direction: 1 | -1): Promise<number | undefined> {
    const { rows } = await this.#query<{ open_time: number }>(
      direction === 1
        ? `SELECT open_time FROM candles WHERE symbol = $1 AND resolution = '1m' AND open_time >= $2
           ORDER BY open_time ASC LIMIT 1`
        : `SELECT open_time FROM candles WHERE symbol = $1 AND resolution = '1m' AND open_time <= $2
           ORDER BY open_time DESC LIMIT 1`,
      [symbol, time],
    );
    return rows[0]?.open_time;
  }

  async recordRepairGaps(gaps: readonly RepairGap[], fence?: WriteFence): Promise<void> {
    const earliest = new Map<string, number>();
    for (const gap of gaps)
      earliest.set(gap.symbol, Math.min(gap.since, earliest.get(gap.symbol) ?? Infinity));
    await this.#transaction(async (client) => {
      await this.#checkFence(client, fence);
      if (earliest.size === 0) return;
      await client.query(
        `INSERT INTO repair_gaps (symbol, since) SELECT * FROM unnest($1::text[], $2::bigint[])
         ON CONFLICT (symbol) DO UPDATE SET since = LEAST(repair_gaps.since, excluded.since)`,
        [[...earliest.keys()], [...earliest.values()]],
      );
    });
  }

  async clearRepairGap(symbol: string, from: number, fence?: WriteFence): Promise<void> {
    await this.#transaction(async (client) => {
      await this.#checkFence(client, fence);
      await client.query('DELETE FROM repair_gaps WHERE symbol = $1 AND since >= $2', [symbol, from]);
    });
  }

  async listRepairGaps(): Promise<RepairGap[]> {
    const { rows } = await this.#query<RepairGap>('SELECT symbol, since FROM repair_gaps ORDER BY symbol');
    return rows;
  }

  async createUser(user: NewUser): Promise<UserRecord> {
    const row: UserRow = {
      id: randomUUID(),
      name: user.name,
      email: user.email,
      role: user.role,
      password_hash: user.passwordHash,
      created_at: this.#now(),
    };
    try {
      await this.#pool.query(
        `INSERT INTO users (id, name, email, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [row.id, row.name, row.email, row.role, row.password_hash, row.created_at],
      );
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new ConflictError(`a user with email ${user.email} exists`, { cause: error });
      }
      throw translate(error);
    }
    return toUser(row);
  }

  async findUserByEmail(email: string): Promise<UserRecord | undefined> {
    const { rows } = await this.#query<UserRow>(
      'SELECT * FROM users WHERE lower(email COLLATE "C") = lower($1 COLLATE "C")',
      [email],
    );
    return rows[0] && toUser(rows[0]);
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const { rows } = await this.#query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return rows[0] && toUser(rows[0]);
  }

  async updateUser(id: string, changes: UserChanges): Promise<UserRecord | undefined> {
    const { rows } = await this.#query<UserRow>(
      `UPDATE users SET role = COALESCE($1, role), password_hash = COALESCE($2, password_hash)
       WHERE id = $3 RETURNING *`,
      [changes.role ?? null, changes.passwordHash ?? null, id],
    );
    return rows[0] && toUser(rows[0]);
  }

  async advanceFence(name: string): Promise<number> {
    const { rows } = await this.#query<{ value: string }>(
      `INSERT INTO settings (key, value) VALUES ($1, '1')
       ON CONFLICT (key) DO UPDATE SET value = (settings.value::bigint + 1)::text RETURNING value`,
      [FENCE_KEY_PREFIX + name],
    );
    return Number(rows[0]!.value);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const { rows } = await this.#query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
    return rows[0]?.value;
  }

  async putSetting(key: string, value: string): Promise<void> {
    await this.#query(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async setSettingIfMissing(key: string, value: string): Promise<string> {
    // The insert's RETURNING is empty when the key exists; the read then sees the committed value.
    const inserted = await this.#query<{ value: string }>(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING value',
      [key, value],
    );
    if (inserted.rows[0]) return inserted.rows[0].value;
    return (await this.getSetting(key))!;
  }
}
