/**
 * Fault injection: the ways the real exchange misbehaves (BINANCE.md 2.1, 3.8, 5, 6), switched on by
 * tests to prove the service survives them. REST faults are consumed by ./rest.ts, frame faults by
 * ./ws.ts; connection faults act on the live connections at once.
 */
import type { SimulatedMarket } from './market.js';

export type RestFaultStatus = 500 | 503 | 429 | 418;

export interface RestErrorSpec {
  readonly status: RestFaultStatus;
  /** How many of the next requests fail. */
  readonly count: number;
  /** `Retry-After` header in seconds (default 1 for 429 and 418, none for 5xx). */
  readonly retryAfterSeconds?: number;
}

export interface ServerShutdownOptions {
  /** Only this connection (default: all). */
  readonly connectionId?: number;
  /** Simulated ms between the event and the close (default: the exchange's serverShutdownCloseAfterMs). */
  readonly closeAfterMs?: number;
}

/** Mutable fault switches shared with the REST and WebSocket sides. */
export interface FaultState {
  readonly restErrors: {
    status: RestFaultStatus;
    remaining: number;
    retryAfterSeconds: number | undefined;
  }[];
  /** Real ms added before every REST response. */
  restDelayMs: number;
  duplicateProbability: number;
  reorderProbability: number;
  malformedProbability: number;
  rejectConnections: number;
  /** Control messages still to be lost (`'lost'`) or refused (`'refused'`), oldest fault first. */
  readonly controlFaults: { how: ControlFault; remaining: number }[];
}

/**
 * What befalls a control message (SUBSCRIBE, UNSUBSCRIBE, …): `lost`, neither applied nor answered;
 * `refused`, not applied and answered with a code 2 error without an id, as BINANCE.md 2.3 writes
 * its errors.
 */
export type ControlFault = 'lost' | 'refused';

/** What the WebSocket side offers to connection faults; each returns how many connections it hit. */
export interface ConnectionFaultTarget {
  serverShutdown(closeAfterMs: number | undefined, connectionId?: number): number;
  drop(connectionId?: number): number;
  close(code: number, reason: string, connectionId?: number): number;
  stall(simulatedMs: number, connectionId?: number): number;
}

export interface SimulatorFaults {
  /** Halts the minutes overlapping [fromMs, toMs): no trades, no kline in REST or stream (BINANCE.md 5). */
  halt(symbol: string, fromMs: number, toMs: number): void;
  /** The next `count` REST requests fail with `status` and Binance's body for it. */
  restErrors(spec: RestErrorSpec): void;
  /** Every REST response waits this many real ms first (0 turns it off). */
  restDelay(ms: number): void;
  /** Sends `serverShutdown` (BINANCE.md 1.6) then closes after a delay. */
  serverShutdown(options?: ServerShutdownOptions): number;
  /** Abrupt loss: the TCP socket is destroyed without a close frame. */
  dropConnections(connectionId?: number): number;
  /** A clean close frame with `code` (default 1000). */
  closeConnections(code?: number, connectionId?: number): number;
  /** The socket stays open but nothing is sent, not even pings, for `ms` simulated ms. */
  stall(ms: number, connectionId?: number): number;
  /** Each data frame is sent twice with this probability. */
  duplicateFrames(probability: number): void;
  /** Each data frame swaps places with the next one of its connection with this probability. */
  reorderFrames(probability: number): void;
  /** Before each data frame a garbage text frame is sent with this probability. */
  malformedFrames(probability: number): void;
  /** The next `count` WebSocket upgrades are refused with HTTP 503. */
  rejectConnections(count: number): void;
  /** The next `count` control messages, on any connection, are lost or refused. */
  controlMessages(how: ControlFault, count: number): void;
  /** Turns every fault off (halts stay: they are market history). */
  reset(): void;
}

export function createFaultState(): FaultState {
  return {
    restErrors: [],
    restDelayMs: 0,
    duplicateProbability: 0,
    reorderProbability: 0,
    malformedProbability: 0,
    rejectConnections: 0,
    controlFaults: [],
  };
}

/** What befalls the next control message, if a fault is set. */
export function takeControlFault(state: FaultState): ControlFault | undefined {
  const next = state.controlFaults[0];
  if (!next) return undefined;
  if (--next.remaining <= 0) state.controlFaults.shift();
  return next.how;
}

/** The injected error the next REST request gets, if any. */
export function takeRestError(
  state: FaultState,
): { status: RestFaultStatus; retryAfterSeconds: number | undefined } | undefined {
  const next = state.restErrors[0];
  if (!next) return undefined;
  if (--next.remaining <= 0) state.restErrors.shift();
  return { status: next.status, retryAfterSeconds: next.retryAfterSeconds };
}

function probability(value: number): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`probability must be within [0, 1], got ${value}`);
  return value;
}

function count(value: number): number {
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`count must be an integer >= 0, got ${value}`);
  return value;
}

export function createFaults(
  state: FaultState,
  market: SimulatedMarket,
  connections: ConnectionFaultTarget,
): SimulatorFaults {
  return {
    halt: (symbol, fromMs, toMs) => market.halt(symbol, fromMs, toMs),
    restErrors(spec) {
      const retryAfter =
        spec.retryAfterSeconds ?? (spec.status === 429 || spec.status === 418 ? 1 : undefined);
      if (count(spec.count) > 0) {
        state.restErrors.push({ status: spec.status, remaining: spec.count, retryAfterSeconds: retryAfter });
      }
    },
    restDelay(ms) {
      state.restDelayMs = count(ms);
    },
    serverShutdown: (options = {}) => connections.serverShutdown(options.closeAfterMs, options.connectionId),
    dropConnections: (connectionId) => connections.drop(connectionId),
    closeConnections: (code = 1000, connectionId) =>
      connections.close(code, 'Closed by the exchange', connectionId),
    stall: (ms, connectionId) => connections.stall(count(ms), connectionId),
    duplicateFrames(p) {
      state.duplicateProbability = probability(p);
    },
    reorderFrames(p) {
      state.reorderProbability = probability(p);
    },
    malformedFrames(p) {
      state.malformedProbability = probability(p);
    },
    rejectConnections(n) {
      state.rejectConnections = count(n);
    },
    controlMessages(how, n) {
      if (count(n) > 0) state.controlFaults.push({ how, remaining: n });
    },
    reset() {
      state.restErrors.length = 0;
      state.restDelayMs = 0;
      state.duplicateProbability = 0;
      state.reorderProbability = 0;
      state.malformedProbability = 0;
      state.rejectConnections = 0;
      state.controlFaults.length = 0;
    },
  };
}
