/**
 * A small seeded pseudo-random generator (mulberry32) for reproducible tests: the same seed gives
 * the same sequence of decisions in the fault proxy, the seeders and the crash loops.
 */

/** A seeded source of random numbers and the usual helpers over it. */
export interface Prng {
  /** The seed it was made with. */
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [min, max]. */
  between(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** A new generator derived from this one (independent stream, still reproducible). */
  fork(): Prng;
}

/** A mulberry32 generator for `seed` (any integer; it is reduced to 32 bits). */
export function prng(seed: number): Prng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    seed,
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error("pick from an empty array");
      return items[int(items.length)] as T;
    },
    fork: () => prng(int(0xffffffff) ^ seed),
  };
}
