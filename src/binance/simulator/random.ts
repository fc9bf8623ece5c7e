/**
 * Integer hashing for the simulated market. The market is a pure function of (seed, symbol, time):
 * every random choice is a hash of its coordinates, never the next draw of a stateful generator,
 * so any minute can be computed alone, in any order, and twice gives the same answer.
 * Only 32-bit integer operations are used, so results are identical on every platform.
 */

/** FNV-1a of a string, 32 bits. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Folds one 32-bit word into a running hash (murmur3-style mixing). */
function fold(hash: number, word: number): number {
  let k = Math.imul(word | 0, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  const h = hash ^ k;
  return (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
}

/** murmur3 finalizer: every input bit affects every output bit. */
function finish(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of three 32-bit words, as an unsigned 32-bit integer. */
export function hash3(a: number, b: number, c: number): number {
  return finish(fold(fold(fold(0x9747b28c, a), b), c));
}

/** Hash of four 32-bit words, as an unsigned 32-bit integer. */
export function hash4(a: number, b: number, c: number, d: number): number {
  return finish(fold(fold(fold(fold(0x9747b28c, a), b), c), d));
}

/**
 * mulberry32: a small seeded generator, for decisions that are a sequence rather than a place in
 * the market (which frame a fault hits), so a faulty run can be replayed from its seed.
 */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
