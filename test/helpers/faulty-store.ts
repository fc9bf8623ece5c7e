/**
 * A real store with a switch that makes its writes fail, for testing what happens while the
 * database is unreachable. Reads and everything else go to the real store untouched.
 */
import type { Store } from '../../src/ports/store.js';

export interface FaultyStore {
  readonly store: Store;
  failing: boolean;
  writeAttempts: number;
}

export function withWriteFaults(real: Store): FaultyStore {
  const state: FaultyStore = {
    failing: false,
    writeAttempts: 0,
    store: new Proxy(real, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const isWrite = property === 'upsertCandles' || property === 'insertPriceSamples';
        return (...args: unknown[]): unknown => {
          if (isWrite) {
            state.writeAttempts++;
            if (state.failing) return Promise.reject(new Error('database unreachable'));
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }),
  };
  return state;
}
