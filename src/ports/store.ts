/**
 * The store port: everything the service persists. Adapters (sqlite, postgres; mongodb later)
 * implement it and pass one contract suite (test/store-contract.ts).
 *
 * Candles: the base series is Binance's 1m kline. Adapters also keep exact rollups at the
 * resolutions of domain/rollups.ts ROLLUP_SOURCES, rewritten from the 1m rows in the same transaction as every 1m write, so a
 * long-interval read touches few rows (ARCHITECTURE.md, "Candles").
 */
import type { StoredCandle, Candle } from '../domain/candle.js';
import type { PriceSample } from '../domain/price.js';
import type { Resolution, ResolutionRange } from '../domain/rollups.js';
import type { NewSymbol, SymbolRecord } from '../domain/symbol.js';

/** Stored candle resolutions: the 1m base and its rollups (domain/rollups.ts). */
export type StoredResolution = Resolution;

export interface SymbolFilter {
  readonly active?: boolean;
  /** Case-insensitive substring of the symbol name. */
  readonly search?: string;
}

export interface TimeRange {
  /** Inclusive lower bound, epoch ms. */
  readonly from?: number;
  /** Inclusive upper bound, epoch ms. */
  readonly to?: number;
}

export interface PriceSampleQuery extends TimeRange {
  readonly symbol: string;
  readonly limit: number;
  /** `asc`: the oldest `limit` samples from `from`; `desc`: the newest `limit` up to `to`. */
  readonly order: 'asc' | 'desc';
}

export interface CandleQuery {
  readonly symbol: string;
  readonly resolution: StoredResolution;
  /** Open times in [from, to], inclusive, epoch ms. */
  readonly from: number;
  readonly to: number;
}

export interface CandleSpan {
  readonly firstOpenTime: number;
  readonly lastOpenTime: number;
}

/**
 * A fencing token (ARCHITECTURE.md, "Scale-out"): a write carrying one is applied only while `token`
 * is still the newest value `advanceFence(name)` has handed out, in the same transaction as the
 * write; otherwise it throws FencedError and writes nothing.
 */
export interface WriteFence {
  readonly name: string;
  readonly token: number;
}

export type Role = 'user' | 'admin';

export interface UserRecord {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly role: Role;
  readonly passwordHash: string;
  readonly createdAt: number;
}

export type NewUser = Omit<UserRecord, 'id' | 'createdAt'>;
/** The fields of a user that change after it is created. */
export type UserChanges = Partial<Pick<UserRecord, 'role' | 'passwordHash'>>;

/** A gap repair still owed: every 1m candle of `symbol` from `since` (epoch ms) is to be fetched. */
export interface RepairGap {
  readonly symbol: string;
  readonly since: number;
}

export interface Store {
  readonly driver: 'sqlite' | 'postgres' | 'mongodb';
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Throws ConflictError when the symbol exists. */
  insertSymbol(symbol: NewSymbol): Promise<SymbolRecord>;
  /** Inserts the symbols that do not exist; existing ones are left as they are. */
  insertSymbolsIfMissing(symbols: readonly NewSymbol[]): Promise<{ created: string[]; skipped: string[] }>;
  getSymbol(symbol: string): Promise<SymbolRecord | undefined>;
  listSymbols(filter?: SymbolFilter): Promise<SymbolRecord[]>;
  /** Returns the updated symbol, or undefined when it does not exist. */
  setSymbolActive(symbol: string, isActive: boolean): Promise<SymbolRecord | undefined>;
  /** The exchange's status of a symbol (TRADING, BREAK, …); returns it updated, or undefined when it does not exist. */
  setSymbolStatus(symbol: string, status: string): Promise<SymbolRecord | undefined>;

  /** Idempotent by (symbol, second): the latest sample of a second wins. One transaction. */
  insertPriceSamples(samples: readonly PriceSample[], fence?: WriteFence): Promise<void>;
  listPriceSamples(query: PriceSampleQuery): Promise<PriceSample[]>;
  /**
   * Deletes samples older than `before` (epoch ms), at most `limit` of them, the oldest first, so
   * that one call stays short however far behind the caller is; returns how many.
   */
  deletePriceSamplesBefore(before: number, limit: number): Promise<number>;

  /**
   * Upserts 1m candles by (symbol, openTime) with the merge rule of domain/candle.ts `shouldReplace`
   * and rewrites the rollups they touch, all in one transaction: all or nothing.
   */
  upsertCandles(candles: readonly StoredCandle[], fence?: WriteFence): Promise<void>;
  /**
   * An operator's correction (`--replace` of an import or a backfill): closed 1m candles are written
   * over what is stored, closed rows included, where any field differs; forming ones are merged by
   * the usual rule. Rewrites the rollups they touch, all in one transaction; returns how many rows
   * were written (new or changed).
   */
  replaceCandles(candles: readonly StoredCandle[]): Promise<number>;
  /** Candles of one stored resolution, ascending by open time. */
  listCandles(query: CandleQuery): Promise<Candle[]>;
  /**
   * The candles of several ranges, each of its own resolution (its `interval` on every candle),
   * in one read: `ranges` are ascending and disjoint (domain/rollups.ts `coveringRanges`), and so
   * are the candles returned.
   */
  listCandleRanges(symbol: string, ranges: readonly ResolutionRange[]): Promise<Candle[]>;
  /** How many candles of one stored resolution open in [from, to]. */
  countCandles(query: CandleQuery): Promise<number>;
  /** First and last 1m open time stored for the symbol. */
  candleSpan(symbol: string): Promise<CandleSpan | undefined>;
  /**
   * The open time of the stored 1m candle nearest `time` in one direction: the first at or after it
   * (`1`) or the last at or before it (`-1`); undefined when there is none. Reads use it to step over
   * a stretch without candles (a halt, or history imported in pieces) in one lookup.
   */
  nearestOpenTime(symbol: string, time: number, direction: 1 | -1): Promise<number | undefined>;

  /**
   * Records gaps still to be repaired: per symbol the earlier of the `since` given and any already
   * recorded. Kept in the store so a restart, or the instance taking over ingestion, resumes them.
   */
  recordRepairGaps(gaps: readonly RepairGap[], fence?: WriteFence): Promise<void>;
  /** Forgets a symbol's recorded gap when it starts at or after `from` (a repair from `from` covered it). */
  clearRepairGap(symbol: string, from: number, fence?: WriteFence): Promise<void>;
  listRepairGaps(): Promise<RepairGap[]>;

  /** Throws ConflictError when the email exists (case-insensitive). */
  createUser(user: NewUser): Promise<UserRecord>;
  findUserByEmail(email: string): Promise<UserRecord | undefined>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  /** Sets the fields given; returns the updated user, or undefined when it does not exist. */
  updateUser(id: string, changes: UserChanges): Promise<UserRecord | undefined>;

  /** Atomically increments the fence `name` (from 0) and returns the new token. */
  advanceFence(name: string): Promise<number>;

  getSetting(key: string): Promise<string | undefined>;
  /** Sets the value only if the key has none; returns the value now stored (so instances agree). */
  setSettingIfMissing(key: string, value: string): Promise<string>;
  /** Sets the value, replacing any. */
  putSetting(key: string, value: string): Promise<void>;
}
