/**
 * A real store with a switch that makes its writes fail, for testing what happens while the
 * database is unreachable, and one that holds them until released (a server that stopped
 * answering, until its timeout). Reads and everything else go to the real store untouched.
 */
import type { Store } from '../../src/ports/store.js';

export interface FaultyStore {
  readonly store: Store;
  failing: boolean;
  writeAttempts: number;
  /** While set, each write waits for it before it fails or goes through. */
  holdWrites: Promise<void> | undefined;
}

export function withWriteFaults(real: Store): FaultyStore {
  const state: FaultyStore = {
    failing: false,
    writeAttempts: 0,
    holdWrites: undefined,
    store: new Proxy(real, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const isWrite = property === 'upsertCandles' || property === 'insertPriceSamples';
        const call = (args: unknown[]): unknown => {
          if (isWrite && state.failing) return Promise.reject(new Error('database unreachable'));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
        return (...args: unknown[]): unknown => {
          if (!isWrite) return call(args);
          state.writeAttempts++;
          const held = state.holdWrites;
          return held ? held.then(() => call(args)) : call(args);
        };
      },
    }),
  };
  return state;
}
