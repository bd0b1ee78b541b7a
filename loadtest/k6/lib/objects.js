// Test objects on the sample origin (and the load origin): /obj/{size}/{name}, sizes written
// 1k, 100k, 1m. Each object name has one fixed size, drawn from a weighted size mix.

/** Bytes of each size token the origins understand. */
export const SIZE_BYTES = /** @type {Record<string, number>} */ ({ '1k': 1024, '100k': 100 * 1024, '1m': 1024 * 1024 });

/**
 * @typedef {{ size: string, weight: number }} SizeWeight
 */

/**
 * Parses a size mix like "1k:80,100k:18,1m:2" (weights, any scale).
 * @param {string} text
 * @returns {SizeWeight[]}
 */
export function parseSizeMix(text) {
  /** @type {SizeWeight[]} */
  const mix = [];
  for (const part of text.split(',')) {
    const [size, weight] = part.trim().split(':');
    if (!(size in SIZE_BYTES)) throw new Error(`SIZE_MIX: unknown size '${size}' (use 1k, 100k or 1m)`);
    const w = Number(weight);
    if (!(w >= 0)) throw new Error(`SIZE_MIX: weight of ${size} must be a non-negative number (got '${weight}')`);
    mix.push({ size, weight: w });
  }

  if (mix.reduce((s, m) => s + m.weight, 0) <= 0) throw new Error('SIZE_MIX: the weights add up to zero');
  return mix;
}

/**
 * A deterministic number in [0, 1) for an integer (mulberry32), so object i has the same size
 * in every VU and every run.
 * @param {number} seed
 * @returns {number}
 */
export function unitHash(seed) {
  let t = (seed + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * The size of object i under a mix.
 * @param {number} i
 * @param {SizeWeight[]} mix
 * @returns {string}
 */
export function sizeOf(i, mix) {
  const total = mix.reduce((s, m) => s + m.weight, 0);
  let x = unitHash(i) * total;
  for (const m of mix) {
    if (x < m.weight) return m.size;
    x -= m.weight;
  }

  return mix[mix.length - 1].size;
}

/**
 * The origin path of an object.
 * @param {string} size  1k, 100k or 1m
 * @param {string} name
 * @param {string} [query]  without the '?'
 * @returns {string}
 */
export function objPath(size, name, query) {
  return `/obj/${size}/${encodeURIComponent(name)}${query ? `?${query}` : ''}`;
}

/**
 * Zipf-distributed ranks 0..n-1 (rank 0 the most popular): P(k) ∝ 1 / (k+1)^s.
 * Built once per VU in the init context; each draw is a binary search.
 */
export class Zipf {
  /**
   * @param {number} n  number of objects
   * @param {number} s  exponent (1.0 is the classic web-cache fit; higher is more skewed)
   */
  constructor(n, s) {
    if (!(n >= 1)) throw new Error('Zipf: need at least one object');
    /** @type {Float64Array} */
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) {
      sum += 1 / Math.pow(k + 1, s);
      this.cdf[k] = sum;
    }

    for (let k = 0; k < n; k++) this.cdf[k] /= sum;
  }

  /** @returns {number} a rank */
  next() {
    const u = Math.random();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }

    return lo;
  }

  /**
   * The share of requests that go to the top `k` ranks (for the expected hit ratio).
   * @param {number} k
   * @returns {number}
   */
  topShare(k) {
    return k <= 0 ? 0 : this.cdf[Math.min(k, this.cdf.length) - 1];
  }
}
