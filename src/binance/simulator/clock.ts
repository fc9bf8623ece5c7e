/**
 * The simulated exchange's notion of "now".
 *
 * Everything the exchange does on a schedule (a kline update every simulated second, a ping every
 * 20 s, the 24 h lifetime; BINANCE.md 1.3 and 2.1) is expressed in simulated milliseconds read from
 * this clock. An accelerated clock lets a test run hours of market in seconds; `speed` says how many
 * simulated ms pass per real ms, which is all the scheduler needs to turn a simulated deadline into
 * a real timer.
 */

export interface Clock {
  /** Simulated epoch ms (an integer). */
  now(): number;
  /** Simulated ms per real ms: 1 for the real clock, 60 for "one minute per second". */
  readonly speed: number;
}

/** What callers may inject: anything with `now()`; without `speed` it is taken as real time. */
export interface ClockLike {
  now(): number;
  readonly speed?: number;
}

export function toClock(clock: ClockLike): Clock {
  const speed = clock.speed ?? 1;
  if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`clock speed must be > 0, got ${speed}`);
  return { now: () => Math.floor(clock.now()), speed };
}

export function createRealClock(): Clock {
  return { now: () => Date.now(), speed: 1 };
}

export interface AcceleratedClockOptions {
  /** Simulated epoch ms at the moment the clock is created (default: the real time now). */
  readonly start?: number;
  /** Simulated ms per real ms, e.g. 60 = one simulated minute per real second. */
  readonly speed: number;
}

/**
 * A clock that runs `speed` times faster than real time from `start`. It reads the monotonic
 * `performance.now()`, so a wall-clock adjustment on the host never makes simulated time jump.
 */
export function createAcceleratedClock(options: AcceleratedClockOptions): Clock {
  const { speed } = options;
  if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`clock speed must be > 0, got ${speed}`);
  const start = options.start ?? Date.now();
  const realStart = performance.now();
  return {
    now: () => Math.floor(start + (performance.now() - realStart) * speed),
    speed,
  };
}

/** Real milliseconds until `simulatedMs` more have passed on `clock` (at least 1, for setTimeout). */
export function realDelayMs(clock: Clock, simulatedMs: number): number {
  return Math.max(1, Math.ceil(simulatedMs / clock.speed));
}
