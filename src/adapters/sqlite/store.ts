/**
 * SqliteStore: the embedded store (better-sqlite3, WAL). Synchronous underneath, so every write
 * method runs in one transaction and cannot interleave with another. While another process (an
 * import, a backfill, a second instance) holds the file's write lock, a write is tried again every
 * BUSY_RETRY_DELAY_MS with the event loop free in between, in the order the writes were called;
 * SQLite's own busy wait, which blocks the whole process, is kept to BUSY_WAIT_PER_ATTEMPT_MS. A
 * write the file cannot take (still locked after BUSY_TIMEOUT_MS, a full disk, a read-only or
 * failing file) rejects with UnavailableError, which the edges answer with 503, as PostgreSQL's
 * outages.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { Candle, StoredCandle } from '../../domain/candle.js';
import { ConflictError, UnavailableError } from '../../domain/errors.js';
import { sampleSecond, type PriceSample } from '../../domain/price.js';
import {
  buildRollup,
  RESOLUTION_MS,
  ROLLUP_SOURCES,
  touchedBuckets,
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

/**
 * How long a write keeps trying while another connection holds the file's lock, in ms, before it
 * is refused; also SQLite's own busy timeout while a store opens (migrations, before serving).
 */
const BUSY_TIMEOUT_MS = 5000;
/**
 * SQLite's busy timeout within one attempt of a write, in ms. SQLite waits synchronously, so a
 * longer one would stop every request, socket and exchange frame of the process for as long.
 */
const BUSY_WAIT_PER_ATTEMPT_MS = 5;
/** The pause between two attempts of a write that found the file locked, in ms (the event loop runs). */
const BUSY_RETRY_DELAY_MS = 20;

/**
 * What a client hears for the SQLite result codes (primary code, before any `_` extension) that say
 * the file cannot take a write now rather than that the request is wrong.
 */
const UNAVAILABLE_BECAUSE: Readonly<Record<string, string>> = {
  SQLITE_BUSY: 'the database is busy; try again shortly',
  SQLITE_LOCKED: 'the database is busy; try again shortly',
  SQLITE_FULL: 'the database is full; writes are refused',
  SQLITE_READONLY: 'the database cannot be written (read-only)',
  SQLITE_IOERR: 'the database cannot be written (I/O error)',
};

/** Another connection holds the lock the write needs (past this attempt's short busy wait). */
const isBusy = (error: unknown): boolean =>
  error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');

function translate(error: unknown): unknown {
  if (!(error instanceof Database.SqliteError)) return error;
  const primary = /^SQLITE_[A-Z]+/.exec(error.code)?.[0] ?? '';
  const because = UNAVAILABLE_BECAUSE[primary];
  return because === undefined ? error : new UnavailableError(because, { cause: error });
}
/**
 * Switching a new file to WAL needs it to itself, and SQLite answers SQLITE_BUSY at once, without
 * its busy timeout, while another instance opening the same file holds it: tries at most this many
 * times, this many ms apart, as long as the busy timeout (once a file is in WAL mode, the switch
 * is a no-op).
 */
const WAL_SWITCH_ATTEMPTS = 250;
const WAL_SWITCH_RETRY_MS = 20;

/** Journal mode WAL, retried while another connection has the file locked (WAL_SWITCH_ATTEMPTS). */
function switchToWal(db: Database.Database): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      const busy = error instanceof Database.SqliteError && error.code === 'SQLITE_BUSY';
      if (!busy || attempt >= WAL_SWITCH_ATTEMPTS) throw error;
      Atomics.wait(pause, 0, 0, WAL_SWITCH_RETRY_MS); // a store opens at start, before serving
    }
  }
}

const candleParams = (candle: Candle, eventTime: number) => ({
  symbol: candle.symbol,
  resolution: candle.interval,
  open_time: candle.openTime,
  close_time: candle.closeTime,
  open: candle.open,
  high: candle.high,
  low: candle.low,
  close: candle.close,
  volume: candle.volume,
  quote_volume: candle.quoteVolume,
  trades: candle.trades,
  taker_buy_volume: candle.takerBuyVolume,
  taker_buy_quote_volume: candle.takerBuyQuoteVolume,
  closed: candle.closed ? 1 : 0,
  event_time: eventTime,
});

const CANDLE_COLUMNS = `symbol, resolution, open_time, close_time, open, high, low, close, volume, quote_volume,
  trades, taker_buy_volume, taker_buy_quote_volume, closed, event_time`;
const CANDLE_VALUES = `@symbol, @resolution, @open_time, @close_time, @open, @high, @low, @close, @volume,
  @quote_volume, @trades, @taker_buy_volume, @taker_buy_quote_volume, @closed, @event_time`;
const CANDLE_UPDATE = `close_time = excluded.close_time, open = excluded.open, high = excluded.high,
  low = excluded.low, close = excluded.close, volume = excluded.volume, quote_volume = excluded.quote_volume,
  trades = excluded.trades, taker_buy_volume = excluded.taker_buy_volume,
  taker_buy_quote_volume = excluded.taker_buy_quote_volume, closed = excluded.closed, event_time = excluded.event_time`;

export interface SqliteStoreOptions {
  /** A file path, or `:memory:`. */
  readonly path: string;
  readonly now?: () => number;
  /** Tests: BUSY_TIMEOUT_MS. */
  readonly busyTimeoutMs?: number;
}

export class SqliteStore implements Store {
  readonly driver = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #statements;
  readonly #busyTimeoutMs: number;
  /** The last of the writes waiting for a locked file, which later writes queue behind. */
  #busyQueue: Promise<void> | undefined;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new Database(options.path);
    this.#now = options.now ?? Date.now;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
    this.#db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
    if (options.path !== ':memory:') switchToWal(this.#db);
    this.#db.pragma('synchronous = NORMAL');
    this.#migrate();
    this.#db.pragma(`busy_timeout = ${Math.min(BUSY_WAIT_PER_ATTEMPT_MS, this.#busyTimeoutMs)}`);
    const db = this.#db;
    this.#statements = {
      symbol: db.prepare<[string], SymbolRow>('SELECT * FROM symbols WHERE symbol = ?'),
      insertSymbol: db.prepare(
        `INSERT INTO symbols (symbol, base_asset, quote_asset, status, is_active, created_at)
         VALUES (@symbol, @base_asset, @quote_asset, @status, @is_active, @created_at) ON CONFLICT DO NOTHING`,
      ),
      setActive: db.prepare('UPDATE symbols SET is_active = ? WHERE symbol = ?'),
      setStatus: db.prepare('UPDATE symbols SET status = ? WHERE symbol = ?'),
      insertSample: db.prepare(
        `INSERT INTO price_samples (symbol, second, timestamp, price) VALUES (?, ?, ?, ?)
         ON CONFLICT (symbol, second) DO UPDATE SET timestamp = excluded.timestamp, price = excluded.price
         WHERE excluded.timestamp > price_samples.timestamp`,
      ),
      // Oldest first along price_samples_by_second, so a bounded delete starts where the old rows are.
      deleteSamples: db.prepare<[number, number]>(
        `DELETE FROM price_samples WHERE (symbol, second) IN
           (SELECT symbol, second FROM price_samples WHERE second < ? ORDER BY second LIMIT ?)`,
      ),
      // The merge rule of domain/candle.ts shouldReplace, in SQL so a batch is one statement per row.
      upsertBase: db.prepare(
        `INSERT INTO candles (${CANDLE_COLUMNS}) VALUES (${CANDLE_VALUES})
         ON CONFLICT (symbol, resolution, open_time) DO UPDATE SET ${CANDLE_UPDATE}
         WHERE candles.closed = 0 AND (excluded.closed = 1 OR excluded.event_time > candles.event_time)`,
      ),
      // replaceCandles: a closed candle over any stored row whose fields differ (event time aside).
      replaceBase: db.prepare(
        `INSERT INTO candles (${CANDLE_COLUMNS}) VALUES (${CANDLE_VALUES})
         ON CONFLICT (symbol, resolution, open_time) DO UPDATE SET ${CANDLE_UPDATE}
         WHERE (${CANDLE_FIELDS_COMPARED.map((field) => `candles.${field}`).join(', ')})
           IS NOT (${CANDLE_FIELDS_COMPARED.map((field) => `excluded.${field}`).join(', ')})`,
      ),
      replaceRollup: db.prepare(
        `INSERT INTO candles (${CANDLE_COLUMNS}) VALUES (${CANDLE_VALUES})
         ON CONFLICT (symbol, resolution, open_time) DO UPDATE SET ${CANDLE_UPDATE}`,
      ),
      // Raw rows (arrays) of just the fields a candle needs: reads of thousands of rows stay cheap.
      candles: db
        .prepare<[string, string, number, number], CandleTuple>(
          `SELECT open_time, close_time, open, high, low, close, volume, quote_volume, trades,
             taker_buy_volume, taker_buy_quote_volume, closed
           FROM candles WHERE symbol = ? AND resolution = ? AND open_time BETWEEN ? AND ? ORDER BY open_time`,
        )
        .raw(true),
      countCandles: db.prepare<[string, string, number, number], { count: number }>(
        `SELECT COUNT(*) AS count FROM candles WHERE symbol = ? AND resolution = ? AND open_time BETWEEN ? AND ?`,
      ),
      // Two indexed lookups: SQLite's min/max shortcut does not apply when one query asks for both.
      firstOpenTime: db.prepare<[string], { open_time: number }>(
        `SELECT open_time FROM candles WHERE symbol = ? AND resolution = '1m' ORDER BY open_time ASC LIMIT 1`,
      ),
      lastOpenTime: db.prepare<[string], { open_time: number }>(
        `SELECT open_time FROM candles WHERE symbol = ? AND resolution = '1m' ORDER BY open_time DESC LIMIT 1`,
      ),
      openTimeAtOrAfter: db.prepare<[string, number], { open_time: number }>(
        `SELECT open_time FROM candles WHERE symbol = ? AND resolution = '1m' AND open_time >= ?
         ORDER BY open_time ASC LIMIT 1`,
      ),
      openTimeAtOrBefore: db.prepare<[string, number], { open_time: number }>(
        `SELECT open_time FROM candles WHERE symbol = ? AND resolution = '1m' AND open_time <= ?
         ORDER BY open_time DESC LIMIT 1`,
      ),
      recordRepairGap: db.prepare<[string, number]>(
        `INSERT INTO repair_gaps (symbol, since) VALUES (?, ?)
         ON CONFLICT (symbol) DO UPDATE SET since = MIN(since, excluded.since)`,
      ),
      clearRepairGap: db.prepare<[string, number]>('DELETE FROM repair_gaps WHERE symbol = ? AND since >= ?'),
      repairGaps: db.prepare<[], RepairGap>('SELECT symbol, since FROM repair_gaps ORDER BY symbol'),
      insertUser: db.prepare(
        `INSERT INTO users (id, name, email, role, password_hash, created_at)
         VALUES (@id, @name, @email, @role, @password_hash, @created_at)`,
      ),
      userByEmail: db.prepare<[string], UserRow>('SELECT * FROM users WHERE email = ?'),
      userById: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
      updateUser: db.prepare<[string | null, string | null, string], UserRow>(
        `UPDATE users SET role = COALESCE(?, role), password_hash = COALESCE(?, password_hash)
         WHERE id = ? RETURNING *`,
      ),
      setting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?'),
      insertSetting: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      putSetting: db.prepare(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
    };
  }

  /**
   * Applies the missing migrations in one IMMEDIATE transaction: instances starting together on one
   * file take turns, and each sees what the one before it applied (no "table already exists").
   */
  #migrate(): void {
    this.#db
      .transaction(() => {
        this.#db.exec(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
        );
        const applied = new Set(
          this.#db
            .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
            .all()
            .map((row) => row.version),
        );
        for (const migration of MIGRATIONS) {
          if (applied.has(migration.version)) continue;
          this.#db.exec(migration.sql);
          this.#db
            .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
            .run(migration.version, migration.name, this.#now());
        }
      })
      .immediate();
  }

  /** The schema versions applied, ascending (for status and tests). */
  schemaVersions(): number[] {
    return this.#db
      .prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version')
      .all()
      .map((row) => row.version);
  }

  /** Size of the database in bytes (pages in use times page size). */
  sizeBytes(): number {
    const pages = this.#db.pragma('page_count', { simple: true }) as number;
    const free = this.#db.pragma('freelist_count', { simple: true }) as number;
    const pageSize = this.#db.pragma('page_size', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  async ping(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
    return;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    return;
  }

  /**
   * Runs a write now, or, while the file is locked by another connection, in turn after the writes
   * already waiting, every BUSY_RETRY_DELAY_MS until BUSY_TIMEOUT_MS; its unavailability
   * (UNAVAILABLE_BECAUSE) turned into UnavailableError. `work` runs in one transaction or one
   * statement, so a failed attempt left nothing behind.
   */
  async #write<T>(work: () => T): Promise<T> {
    // Up to its first await an async function runs at once: the queue's order is the calls' order.
    const queued = this.#busyQueue;
    if (queued === undefined) {
      try {
        return work();
      } catch (error) {
        if (!isBusy(error)) throw translate(error);
      }
    }
    // A write that just found the file locked waits before its next attempt; one queued behind it
    // tries as soon as its turn comes, so the queue drains at once when the lock is let go.
    const deadline = performance.now() + this.#busyTimeoutMs;
    const result = (queued ?? Promise.resolve()).then(() =>
      this.#retry(work, deadline, queued === undefined),
    );
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#busyQueue = tail;
    void tail.then(() => {
      if (this.#busyQueue === tail) this.#busyQueue = undefined;
    });
    return result;
  }

  async #retry<T>(work: () => T, deadline: number, waitFirst: boolean): Promise<T> {
    for (let wait = waitFirst; ; wait = true) {
      if (wait) await sleep(BUSY_RETRY_DELAY_MS);
      try {
        return work();
      } catch (error) {
        if (!isBusy(error) || performance.now() >= deadline) throw translate(error);
      }
    }
  }

  async insertSymbol(symbol: NewSymbol): Promise<SymbolRecord> {
    const row = this.#symbolParams(symbol);
    if ((await this.#write(() => this.#statements.insertSymbol.run(row))).changes === 0) {
      throw new ConflictError(`symbol ${symbol.symbol} already exists`);
    }
    return toSymbol(row);
  }

  async insertSymbolsIfMissing(
    symbols: readonly NewSymbol[],
  ): Promise<{ created: string[]; skipped: string[] }> {
    // Filled in the transaction, so an attempt that found the file locked leaves nothing in them.
    return this.#write(() =>
      this.#db.transaction(() => {
        const created: string[] = [];
        const skipped: string[] = [];
        for (const symbol of symbols) {
          const inserted = this.#statements.insertSymbol.run(this.#symbolParams(symbol)).changes > 0;
          (inserted ? created : skipped).push(symbol.symbol);
        }
        return { created, skipped };
      })(),
    );
  }

  #symbolParams(symbol: NewSymbol): SymbolRow {
    return {
      symbol: symbol.symbol,
      base_asset: symbol.baseAsset,
      quote_asset: symbol.quoteAsset,
      status: symbol.status,
      is_active: symbol.isActive ? 1 : 0,
      created_at: this.#now(),
    };
  }

  async getSymbol(symbol: string): Promise<SymbolRecord | undefined> {
    const row = this.#statements.symbol.get(symbol);
    return row && toSymbol(row);
  }

  async listSymbols(filter: SymbolFilter = {}): Promise<SymbolRecord[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.active !== undefined) {
      where.push('is_active = ?');
      params.push(filter.active ? 1 : 0);
    }
    if (filter.search) {
      // instr() is a plain substring test: no LIKE wildcards to escape.
      where.push('instr(symbol, ?) > 0');
      params.push(filter.search.toUpperCase());
    }
    const sql = `SELECT * FROM symbols ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY symbol`;
    return this.#db
      .prepare<(string | number)[], SymbolRow>(sql)
      .all(...params)
      .map(toSymbol);
  }

  async setSymbolActive(symbol: string, isActive: boolean): Promise<SymbolRecord | undefined> {
    await this.#write(() => this.#statements.setActive.run(isActive ? 1 : 0, symbol));
    return this.getSymbol(symbol);
  }

  async setSymbolStatus(symbol: string, status: string): Promise<SymbolRecord | undefined> {
    await this.#write(() => this.#statements.setStatus.run(status, symbol));
    return this.getSymbol(symbol);
  }

  async insertPriceSamples(samples: readonly PriceSample[], fence?: WriteFence): Promise<void> {
    await this.#write(() =>
      this.#db
        .transaction(() => {
          this.#checkFence(fence);
          for (const sample of samples) {
            this.#statements.insertSample.run(
              sample.symbol,
              sampleSecond(sample.timestamp),
              sample.timestamp,
              sample.price,
            );
          }
        })
        .immediate(),
    );
  }

  async listPriceSamples(query: PriceSampleQuery): Promise<PriceSample[]> {
    const direction = query.order === 'asc' ? 'ASC' : 'DESC';
    const from = query.from ?? 0;
    const to = query.to ?? Number.MAX_SAFE_INTEGER;
    const rows = this.#db
      .prepare<[string, number, number, number, number, number], { timestamp: number; price: string }>(
        `SELECT timestamp, price FROM price_samples
         WHERE symbol = ? AND second BETWEEN ? AND ? AND timestamp BETWEEN ? AND ?
         ORDER BY second ${direction} LIMIT ?`,
      )
      .all(query.symbol, sampleSecond(from), sampleSecond(to), from, to, query.limit);
    return rows.map((row) => ({ symbol: query.symbol, price: row.price, timestamp: row.timestamp }));
  }

  async deletePriceSamplesBefore(before: number, limit: number): Promise<number> {
    return this.#write(() => this.#statements.deleteSamples.run(sampleSecond(before), limit).changes);
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
  #writeCandles(
    candles: readonly StoredCandle[],
    fence: WriteFence | undefined,
    replace: boolean,
  ): Promise<number> {
    return this.#write(() =>
      this.#db
        .transaction(() => {
          this.#checkFence(fence);
          // Per symbol, the minutes written: a minute written twice in one batch is one row written.
          const touched = new Map<string, Set<number>>();
          for (const candle of candles) {
            const statement =
              replace && candle.closed ? this.#statements.replaceBase : this.#statements.upsertBase;
            if (statement.run(candleParams(candle, candle.eventTime)).changes === 0) continue;
            const times = touched.get(candle.symbol) ?? new Set<number>();
            times.add(candle.openTime);
            touched.set(candle.symbol, times);
          }
          let written = 0;
          for (const [symbol, openTimes] of touched) {
            this.#rewriteRollups(symbol, [...openTimes]);
            written += openTimes.size;
          }
          return written;
        })
        .immediate(),
    );
  }

  #rewriteRollups(symbol: string, baseOpenTimes: readonly number[]): void {
    let changed: Iterable<number> = baseOpenTimes;
    for (const { resolution, source } of ROLLUP_SOURCES) {
      const buckets = touchedBuckets(changed, resolution);
      for (const openTime of buckets) {
        const rows = this.#statements.candles
          .all(symbol, source, openTime, openTime + RESOLUTION_MS[resolution] - 1)
          .map((row) => toCandle(symbol, source, row));
        const rollup = buildRollup(rows, resolution);
        if (rollup) this.#statements.replaceRollup.run(candleParams(rollup, this.#now()));
      }
      changed = buckets;
    }
  }

  async listCandles(query: CandleQuery): Promise<Candle[]> {
    return this.#statements.candles
      .all(query.symbol, query.resolution, query.from, query.to)
      .map((row) => toCandle(query.symbol, query.resolution, row));
  }

  async listCandleRanges(symbol: string, ranges: readonly ResolutionRange[]): Promise<Candle[]> {
    // One read transaction, so one snapshot: another process's write (1m rows and their rollups)
    // cannot land between two ranges of one bucket.
    return this.#db.transaction(() => {
      const candles: Candle[] = [];
      for (const { resolution, from, to } of ranges) {
        for (const row of this.#statements.candles.iterate(symbol, resolution, from, to)) {
          candles.push(toCandle(symbol, resolution, row));
        }
      }
      return candles;
    })();
  }

  async countCandles(query: CandleQuery): Promise<number> {
    return this.#statements.countCandles.get(query.symbol, query.resolution, query.from, query.to)!.count;
  }

  async candleSpan(symbol: string): Promise<CandleSpan | undefined> {
    const first = this.#statements.firstOpenTime.get(symbol);
    const last = this.#statements.lastOpenTime.get(symbol);
    if (!first || !last) return undefined;
    return { firstOpenTime: first.open_time, lastOpenTime: last.open_time };
  }

  async nearestOpenTime(symbol: string, time: number, direction: 1 | -1): Promise<number | undefined> {
    const statement =
      direction === 1 ? this.#statements.openTimeAtOrAfter : this.#statements.openTimeAtOrBefore;
    return statement.get(symbol, time)?.open_time;
  }

  async recordRepairGaps(gaps: readonly RepairGap[], fence?: WriteFence): Promise<void> {
    await this.#write(() =>
      this.#db
        .transaction(() => {
          this.#checkFence(fence);
          for (const gap of gaps) this.#statements.recordRepairGap.run(gap.symbol, gap.since);
        })
        .immediate(),
    );
  }

  async clearRepairGap(symbol: string, from: number, fence?: WriteFence): Promise<void> {
    await this.#write(() =>
      this.#db
        .transaction(() => {
          this.#checkFence(fence);
          this.#statements.clearRepairGap.run(symbol, from);
        })
        .immediate(),
    );
  }

  async listRepairGaps(): Promise<RepairGap[]> {
    return this.#statements.repairGaps.all();
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
    await this.#write(() => {
      try {
        this.#statements.insertUser.run(row);
      } catch (error) {
        if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new ConflictError(`a user with email ${user.email} exists`, { cause: error });
        }
        throw error;
      }
    });
    return toUser(row);
  }

  async findUserByEmail(email: string): Promise<UserRecord | undefined> {
    const row = this.#statements.userByEmail.get(email);
    return row && toUser(row);
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const row = this.#statements.userById.get(id);
    return row && toUser(row);
  }

  async updateUser(id: string, changes: UserChanges): Promise<UserRecord | undefined> {
    const row = await this.#write(() =>
      this.#statements.updateUser.get(changes.role ?? null, changes.passwordHash ?? null, id),
    );
    return row && toUser(row);
  }

  async advanceFence(name: string): Promise<number> {
    return this.#write(() =>
      this.#db
        .transaction(() => {
          const key = FENCE_KEY_PREFIX + name;
          const next = Number(this.#statements.setting.get(key)?.value ?? '0') + 1;
          this.#statements.putSetting.run(key, String(next));
          return next;
        })
        .immediate(),
    );
  }

  /**
   * Inside a write's transaction, which must be IMMEDIATE: throws FencedError unless the fence's
   * token is still current. A deferred transaction would read the fence under a snapshot that
   * another instance's commit can make stale before the write, failing with SQLITE_BUSY instead.
   */
  #checkFence(fence: WriteFence | undefined): void {
    if (!fence) return;
    const current = Number(this.#statements.setting.get(FENCE_KEY_PREFIX + fence.name)?.value ?? '0');
    checkFenceToken(fence, current);
  }

  async getSetting(key: string): Promise<string | undefined> {
    return this.#statements.setting.get(key)?.value;
  }

  async putSetting(key: string, value: string): Promise<void> {
    await this.#write(() => this.#statements.putSetting.run(key, value));
  }

  async setSettingIfMissing(key: string, value: string): Promise<string> {
    await this.#write(() => this.#statements.insertSetting.run(key, value));
    return this.#statements.setting.get(key)!.value;
  }
}
