/**
 * Request-weight accounting per client IP (BINANCE.md 3.8): a rolling one-minute sum reported in
 * `X-MBX-USED-WEIGHT-1M`; over the limit a request gets 429 with `Retry-After`; a request sent while
 * that 429 still holds is an auto-ban, 418, whose length doubles for repeat offenders (from 2 minutes
 * up to 3 days, as Binance says bans "scale in duration").
 *
 * This runs on real time even when the market clock is accelerated: it models how fast the client
 * sends requests, and clients pace themselves and honour `Retry-After` with real timers.
 */

export const WEIGHT_WINDOW_MS = 60_000;
export const FIRST_BAN_MS = 2 * 60_000;
export const MAX_BAN_MS = 3 * 24 * 60 * 60_000;
/** Idle IPs are forgotten past this many, so the table cannot grow without bound. */
const MAX_TRACKED_IPS = 10_000;

export type Admission =
  | { readonly kind: 'ok'; readonly usedWeight: number }
  | { readonly kind: 'limited'; readonly usedWeight: number; readonly retryAfterSeconds: number }
  | {
      readonly kind: 'banned';
      readonly usedWeight: number;
      readonly retryAfterSeconds: number;
      readonly bannedUntil: number;
    };

interface IpState {
  /** (time, weight) of requests in the last window, oldest first. */
  readonly entries: { at: number; weight: number }[];
  used: number;
  limitedUntil: number;
  bannedUntil: number;
  bans: number;
}

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

export class WeightLimiter {
  private readonly ips = new Map<string, IpState>();

  constructor(
    private readonly limitPerMinute: number,
    private readonly firstBanMs = FIRST_BAN_MS,
    private readonly now: () => number = Date.now,
  ) {}

  get limit(): number {
    return this.limitPerMinute;
  }

  used(ip: string): number {
    const state = this.ips.get(ip);
    if (!state) return 0;
    this.expire(state, this.now());
    return state.used;
  }

  /** Accounts a request of `weight` from `ip` and says whether it may be served. */
  admit(ip: string, weight: number): Admission {
    const now = this.now();
    const state = this.state(ip);
    this.expire(state, now);
    if (state.bannedUntil > now) {
      return {
        kind: 'banned',
        usedWeight: state.used,
        retryAfterSeconds: seconds(state.bannedUntil - now),
        bannedUntil: state.bannedUntil,
      };
    }
    if (state.limitedUntil > now) {
      state.bans++;
      const banMs = Math.min(MAX_BAN_MS, this.firstBanMs * 2 ** (state.bans - 1));
      state.bannedUntil = now + banMs;
      return {
        kind: 'banned',
        usedWeight: state.used,
        retryAfterSeconds: seconds(banMs),
        bannedUntil: state.bannedUntil,
      };
    }
    state.entries.push({ at: now, weight });
    state.used += weight;
    if (state.used <= this.limitPerMinute) return { kind: 'ok', usedWeight: state.used };
    // Wait until enough of the window has expired to be back within the limit.
    let excess = state.used - this.limitPerMinute;
    let until = now;
    for (const entry of state.entries) {
      excess -= entry.weight;
      until = entry.at + WEIGHT_WINDOW_MS;
      if (excess <= 0) break;
    }
    state.limitedUntil = until;
    return { kind: 'limited', usedWeight: state.used, retryAfterSeconds: seconds(until - now) };
  }

  private state(ip: string): IpState {
    let state = this.ips.get(ip);
    if (!state) {
      if (this.ips.size >= MAX_TRACKED_IPS) this.forgetIdle();
      state = { entries: [], used: 0, limitedUntil: 0, bannedUntil: 0, bans: 0 };
      this.ips.set(ip, state);
    }
    return state;
  }

  private expire(state: IpState, now: number): void {
    while (state.entries.length > 0 && state.entries[0]!.at <= now - WEIGHT_WINDOW_MS) {
      state.used -= state.entries.shift()!.weight;
    }
  }

  private forgetIdle(): void {
    const now = this.now();
    for (const [ip, state] of this.ips) {
      this.expire(state, now);
      if (state.used === 0 && state.bannedUntil <= now && state.limitedUntil <= now) this.ips.delete(ip);
    }
  }
}
