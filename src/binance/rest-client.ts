/**
 * Binance Spot REST client for market data (BINANCE.md section 3): klines for gap repair,
 * exchangeInfo and ticker/24hr for the universe, time. Paces itself on `X-MBX-USED-WEIGHT-1M`,
 * waits out 429/418 for every call, pauses every call after a 403 (WAF block) and raises it,
 * retries 5xx and timeouts with jittered backoff, and raises other 4xx at once as BinanceApiError.
 * Body decoding lives in ./rest-wire.ts.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { StoredCandle } from '../domain/candle.js';
import { UnavailableError } from '../domain/errors.js';
import { MINUTE_MS, bucketOpenTime } from '../domain/intervals.js';
import { normalizeSymbol } from '../domain/symbol.js';
import {
  BinanceApiError,
  BinanceResponseError,
  EXCHANGE_INFO_WEIGHT,
  KLINES_MAX_LIMIT,
  KLINES_WEIGHT,
  RECOMMENDED_EXCHANGE_INFO_QUERY,
  SERVER_TIME_WEIGHT,
  TICKER_24H_ALL_WEIGHT,
  apiError,
  checkKlinesQuery,
  decodeExchangeInfo,
  decodeKlinePage,
  decodeServerTime,
  decodeTickers24h,
  parseJson,
  parseRetryAfterMs,
  readBody,
  type ExchangeInfo,
  type ExchangeInfoQuery,
  type KlinesQuery,
  type KlinesRangeQuery,
  type Lenient,
  type Ticker24h,
} from './rest-wire.js';

/** REQUEST_WEIGHT per minute per IP, shared with the WebSocket API (BINANCE.md 3.8). */
export const WEIGHT_LIMIT_PER_MINUTE = 6000;
/** Headroom left for other users of the IP (a second process, the WS API) and our own estimate errors. */
export const WEIGHT_SAFETY_MARGIN = 600;
/** Binance counts weight per calendar minute (BINANCE.md 3.8). */
const WEIGHT_WINDOW_MS = MINUTE_MS;
/** Waiting this long past the minute leaves room for our clock running ahead of Binance's. */
export const WEIGHT_WINDOW_SKEW_MS = 1000;
/** Waits when a 429/418 has no Retry-After; bans start at 2 minutes (BINANCE.md 3.8). */
export const DEFAULT_RATE_LIMIT_PAUSE_MS = 60_000;
export const DEFAULT_BAN_PAUSE_MS = 120_000;
/**
 * How long every call waits after a 403, the WAF's block (BINANCE.md 3.8: "a rate-limit or security
 * block", no duration given; a Retry-After is honoured if one comes). Sending on would meet the
 * block again and, when it is about the rate, prolong it; a minute is one weight window.
 */
export const DEFAULT_WAF_BLOCK_PAUSE_MS = 60_000;
/** Full-jitter exponential backoff for 5xx, -1007/-1008 and timeouts. */
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 30_000;
export const MAX_RETRIES = 5;
/** 429/418 are waited out, but a server that keeps answering them is not retried forever. */
export const MAX_RATE_LIMIT_RETRIES = 5;
/** Binance itself gives up on a request after 10 s (BINANCE.md 3.1). */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Calls waiting or in flight at once; more are refused rather than queued without bound. */
export const MAX_PENDING_REQUESTS = 64;
/** TIMEOUT and SERVER_BUSY: Binance-side trouble, worth a retry whatever the status (BINANCE.md 6). */
const RETRYABLE_BINANCE_CODES = new Set([-1007, -1008]);
/** The store's base series (SPEC section 7); longer intervals are derived from it. */
const KLINE_INTERVAL = '1m';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface RestClientOptions {
  /** e.g. https://data-api.binance.vision (market data only, BINANCE.md 3.1). */
  readonly baseUrl: string;
  readonly now?: () => number;
  readonly sleep?: Sleep;
  /** In [0, 1), for backoff jitter. */
  readonly random?: () => number;
  /** Cancels every wait and every request in flight (graceful stop). */
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
  readonly requestTimeoutMs?: number;
  readonly maxRetries?: number;
  readonly maxPendingRequests?: number;
  readonly weightLimit?: number;
  readonly weightSafetyMargin?: number;
}

export interface RestErrorRecord {
  readonly at: number;
  readonly path: string;
  readonly status: number;
  readonly binanceCode: number | undefined;
  readonly message: string;
}

/** For /system/status. */
export interface RestClientStatus {
  /** Weight counted in the current minute, including requests in flight. */
  readonly usedWeight: number;
  readonly weightLimit: number;
  readonly weightResetsAt: number;
  /** Epoch ms until which no request leaves after a 429/418/403; null when not paused. */
  readonly pausedUntil: number | null;
  readonly lastError: RestErrorRecord | null;
  /** HTTP requests sent, retries included. */
  readonly requests: number;
  readonly retries: number;
  readonly rateLimited: number;
  /** 418 answers: the IP was banned. */
  readonly bans: number;
  readonly pending: number;
}

export interface RestClient {
  klines(query: KlinesQuery): Promise<StoredCandle[]>;
  /**
   * Pages through [from, to] (BINANCE.md section 6, backfill), yielding each non-empty page as it
   * arrives so the caller can store it and resume from its last open time after a failure.
   */
  klinesRange(query: KlinesRangeQuery): AsyncGenerator<StoredCandle[], void, undefined>;
  exchangeInfo(query?: ExchangeInfoQuery): Promise<ExchangeInfo>;
  ticker24h(): Promise<Lenient<Ticker24h>>;
  serverTime(): Promise<number>;
  status(): RestClientStatus;
}

interface Received {
  readonly body: unknown;
  /** The exchange's idea of now (ms): the earlier of the `Date` header and our clock. */
  readonly serverTime: number;
  readonly receivedAt: number;
}

type Query = Readonly<Record<string, string | number | boolean | undefined>>;
type Attempt = { kind: 'ok'; received: Received } | { kind: 'rateLimited' | 'transient'; error: Error };

/**
 * What a failed fetch says, with its cause: undici's own message is only "fetch failed", and why
 * (a refused connection, a name that does not resolve, with the address) is in the cause, whose
 * message is empty when every address of a name was refused (an AggregateError with a code).
 */
function networkReason(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (!(cause instanceof Error)) return String(error);
  const code = (cause as { code?: unknown }).code;
  const detail = cause.message || (typeof code === 'string' ? code : '');
  return detail ? `${String(error)} (${detail})` : String(error);
}

const defaultSleep: Sleep = (ms, signal) => sleepTimer(ms, undefined, signal ? { signal } : {});

export function createRestClient(options: RestClientOptions): RestClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const fetchImpl = options.fetch ?? fetch;
  const { signal } = options;
  const timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const maxRetries = options.maxRetries ?? MAX_RETRIES;
  const maxPending = options.maxPendingRequests ?? MAX_PENDING_REQUESTS;
  const budget = new WeightBudget(
    options.weightLimit ?? WEIGHT_LIMIT_PER_MINUTE,
    options.weightSafetyMargin ?? WEIGHT_SAFETY_MARGIN,
  );
  const counters = { requests: 0, retries: 0, rateLimited: 0, bans: 0, pending: 0 };
  let lastError: RestErrorRecord | null = null;

  const remember = (path: string, error: Error): void => {
    const api = error instanceof BinanceApiError ? error : undefined;
    lastError = {
      at: now(),
      path,
      status: api?.status ?? 0,
      binanceCode: api?.binanceCode,
      message: error.message,
    };
  };

  // Concurrent callers share the budget without a queue: the check and the reservation run in one
  // synchronous step after the last await, so two callers can never both spend the same headroom.
  async function acquire(weight: number): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const waitMs = budget.waitMs(weight, now());
      if (waitMs <= 0) return budget.reserve(weight);
      await sleep(waitMs, signal);
    }
  }

  async function attempt(path: string, url: string, weight: number): Promise<Attempt> {
    counters.requests++;
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let text: string;
    let usedWeight: string | null = null;
    try {
      response = await fetchImpl(url, {
        headers: { accept: 'application/json' },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      usedWeight = response.headers.get('x-mbx-used-weight-1m');
      text = await readBody(response, path);
    } catch (error) {
      signal?.throwIfAborted();
      if (error instanceof BinanceResponseError) throw error;
      const reason = timeout.aborted
        ? `no answer within ${timeoutMs} ms`
        : `network error: ${networkReason(error)}`;
      return {
        kind: 'transient',
        error: new BinanceApiError(0, undefined, `${path}: ${reason}`, { cause: error }),
      };
    } finally {
      budget.settle(weight, usedWeight, now());
    }
    const receivedAt = now();
    const { status } = response;
    if (status >= 200 && status < 300) {
      const date = Date.parse(response.headers.get('date') ?? '');
      // Both clocks must agree a candle has ended before it is called closed (closed is final).
      const serverTime = Number.isFinite(date) ? Math.min(date, receivedAt) : receivedAt;
      return { kind: 'ok', received: { body: parseJson(text, path), serverTime, receivedAt } };
    }
    if (status === 429 || status === 418) {
      // Every call of this client waits, not only this one: the limit is per IP (BINANCE.md 3.8).
      const banned = status === 418;
      const fallback = banned ? DEFAULT_BAN_PAUSE_MS : DEFAULT_RATE_LIMIT_PAUSE_MS;
      budget.pause(receivedAt + parseRetryAfterMs(response.headers.get('retry-after'), fallback));
      if (banned) counters.bans++;
      else counters.rateLimited++;
      return {
        kind: 'rateLimited',
        error: apiError(path, status, text, banned ? 'IP banned' : 'rate limited'),
      };
    }
    if (status === 403) {
      // Blocked for the IP like a 429, so every call waits; this one is raised, not retried, since
      // a security block may be about the request itself (BINANCE.md 3.8: SQL keywords).
      const retryAfter = response.headers.get('retry-after');
      budget.pause(receivedAt + parseRetryAfterMs(retryAfter, DEFAULT_WAF_BLOCK_PAUSE_MS));
      throw apiError(path, status, text, 'blocked by the WAF');
    }
    const error = apiError(path, status, text, 'request failed');
    const code = error.binanceCode;
    if (status >= 500 || (code !== undefined && RETRYABLE_BINANCE_CODES.has(code))) {
      return { kind: 'transient', error };
    }
    throw error;
  }

  async function request<T>(
    path: string,
    query: Query,
    weight: number,
    decode: (r: Received) => T,
  ): Promise<T> {
    if (counters.pending >= maxPending) {
      throw new UnavailableError(`Binance REST client busy: ${maxPending} calls already pending`);
    }
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const search = params.size > 0 ? `?${params.toString()}` : '';
    const url = `${baseUrl}${path}${search}`;
    counters.pending++;
    try {
      let failures = 0;
      let rateLimits = 0;
      for (;;) {
        await acquire(weight);
        const outcome = await attempt(path, url, weight);
        if (outcome.kind === 'ok') return decode(outcome.received);
        remember(path, outcome.error);
        if (outcome.kind === 'rateLimited') {
          if (++rateLimits > MAX_RATE_LIMIT_RETRIES) throw outcome.error;
          counters.retries++;
          continue; // acquire() waits out the pause
        }
        if (++failures > maxRetries) throw outcome.error;
        counters.retries++;
        const ceilingMs = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
        await sleep(Math.floor(random() * ceilingMs), signal);
      }
    } catch (error) {
      if (error instanceof Error && !signal?.aborted) remember(path, error);
      throw error;
    } finally {
      counters.pending--;
    }
  }

  async function klines(query: KlinesQuery): Promise<StoredCandle[]> {
    checkKlinesQuery(query);
    const symbol = normalizeSymbol(query.symbol);
    const limit = query.limit ?? KLINES_MAX_LIMIT;
    const { startTime, endTime } = query;
    const params = { symbol, interval: KLINE_INTERVAL, startTime, endTime, limit };
    return request('/api/v3/klines', params, KLINES_WEIGHT, (r) =>
      decodeKlinePage(r.body, {
        symbol,
        interval: KLINE_INTERVAL,
        intervalMs: MINUTE_MS,
        limit,
        serverTime: r.serverTime,
        fetchedAt: r.receivedAt,
      }),
    );
  }

  async function* klinesRange(query: KlinesRangeQuery): AsyncGenerator<StoredCandle[], void, undefined> {
    const limit = query.limit ?? KLINES_MAX_LIMIT;
    let startTime = query.from;
    while (startTime <= query.to) {
      const page = await klines({ symbol: query.symbol, startTime, endTime: query.to, limit });
      const last = page.at(-1);
      if (!last) return;
      yield page;
      if (page.length < limit) return;
      const next = last.openTime + MINUTE_MS;
      if (next <= startTime) {
        throw new BinanceResponseError(
          `klines: page from ${startTime} ended at ${last.openTime}, no progress`,
        );
      }
      startTime = next;
    }
  }

  return {
    klines,
    klinesRange,
    exchangeInfo: (query = RECOMMENDED_EXCHANGE_INFO_QUERY) =>
      request('/api/v3/exchangeInfo', { ...query }, EXCHANGE_INFO_WEIGHT, (r) => decodeExchangeInfo(r.body)),
    ticker24h: () =>
      request('/api/v3/ticker/24hr', {}, TICKER_24H_ALL_WEIGHT, (r) => decodeTickers24h(r.body)),
    serverTime: () => request('/api/v3/time', {}, SERVER_TIME_WEIGHT, (r) => decodeServerTime(r.body)),
    status: () => ({ ...budget.snapshot(now()), lastError, ...counters }),
  };
}

/**
 * The used weight of Binance's current calendar-minute window (BINANCE.md 3.8) and the 429/418/403
 * pause. The `X-MBX-USED-WEIGHT-1M` header is the truth (other processes on the IP count too);
 * requests in flight are added on top until their answer reports them.
 */
class WeightBudget {
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;
  private inFlight = 0;
  private pausedUntil = 0;

  constructor(
    private readonly limit: number,
    private readonly margin: number,
  ) {}

  private roll(now: number): void {
    const start = bucketOpenTime(now, WEIGHT_WINDOW_MS);
    if (start > this.windowStart) {
      this.windowStart = start;
      this.used = 0;
    }
  }

  /** How long to wait (ms) before a request of `weight` may leave; 0 or less: now. */
  waitMs(weight: number, now: number): number {
    if (this.pausedUntil > now) return this.pausedUntil - now;
    this.roll(now);
    if (this.used + this.inFlight + weight <= this.limit - this.margin) return 0;
    return this.windowStart + WEIGHT_WINDOW_MS + WEIGHT_WINDOW_SKEW_MS - now;
  }

  reserve(weight: number): void {
    this.inFlight += weight;
  }

  /** A reserved request ended; `header` is its X-MBX-USED-WEIGHT-1M, null when it had none. */
  settle(weight: number, header: string | null, now: number): void {
    this.inFlight -= weight;
    this.roll(now);
    const reported = header === null ? Number.NaN : Number(header);
    // Weight only grows within a window, so a smaller value is an older answer arriving late.
    // Without a header the request is assumed to have counted.
    if (Number.isSafeInteger(reported) && reported >= 0) this.used = Math.max(this.used, reported);
    else this.used += weight;
  }

  pause(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  snapshot(
    now: number,
  ): Pick<RestClientStatus, 'usedWeight' | 'weightLimit' | 'weightResetsAt' | 'pausedUntil'> {
    this.roll(now);
    return {
      usedWeight: this.used + this.inFlight,
      weightLimit: this.limit,
      weightResetsAt: this.windowStart + WEIGHT_WINDOW_MS,
      pausedUntil: this.pausedUntil > now ? this.pausedUntil : null,
    };
  }
}
