// Settings shared by every EdgeCache k6 script, read from the environment (k6 run -e NAME=value
// or NAME=value k6 run ...). Defaults match the local CDN started by deploy/local/up.sh.

/**
 * A string setting.
 * @param {string} name
 * @param {string} fallback
 * @returns {string}
 */
export function envString(name, fallback) {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

/**
 * A numeric setting; a value that is not a number stops the script with a message naming it.
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
export function envNumber(name, fallback) {
  const v = __ENV[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number (got '${v}')`);
  return n;
}

/**
 * A duration setting in k6 form ("30s", "2m"); returned unchanged, checked for shape.
 * @param {string} name
 * @param {string} fallback
 * @returns {string}
 */
export function envDuration(name, fallback) {
  const v = envString(name, fallback);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(v)) throw new Error(`${name} must be a k6 duration like 30s or 1m30s (got '${v}')`);
  return v;
}

/**
 * Seconds in a k6 duration string ("1m30s" = 90).
 * @param {string} d
 * @returns {number}
 */
export function seconds(d) {
  /** @type {Record<string, number>} */
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  for (let m = re.exec(d); m !== null; m = re.exec(d)) total += Number(m[1]) * unit[m[2]];
  return total;
}

/** @param {string} u */
const trimSlash = (u) => u.trim().replace(/\/+$/, '');

/** Edge base URLs the reads go to (EDGE_URLS, comma-separated). */
export const EDGE_URLS = envString('EDGE_URLS', 'http://127.0.0.1:8081,http://127.0.0.1:8082')
  .split(',')
  .map(trimSlash)
  .filter((u) => u.length > 0);

/** The Host header every request to an edge carries (HOST). */
export const HOST = envString('HOST', 'www.example.com');

/** The origin's base URL (ORIGIN_URL), for /__origin/stats and the load origin's controls. */
export const ORIGIN_URL = trimSlash(envString('ORIGIN_URL', 'http://127.0.0.1:8000'));

/** The purge API's base URL (PURGE_URL). */
export const PURGE_URL = trimSlash(envString('PURGE_URL', 'http://127.0.0.1:8070'));

/** The purge API key (PURGE_KEY), sent as Authorization: Bearer. */
export const PURGE_KEY = envString('PURGE_KEY', '');

/** Where handleSummary writes JSON summaries (RESULTS_DIR), relative to the directory k6 runs in. */
export const RESULTS_DIR = trimSlash(envString('RESULTS_DIR', 'loadtest/results'));

if (EDGE_URLS.length === 0) throw new Error('EDGE_URLS names no edge');

/**
 * The edge for a number (round robin), so every VU and iteration spreads over all edges.
 * @param {number} n
 * @returns {string}
 */
export function edgeFor(n) {
  return EDGE_URLS[Math.abs(Math.floor(n)) % EDGE_URLS.length];
}

/** A random edge. */
export function randomEdge() {
  return EDGE_URLS[Math.floor(Math.random() * EDGE_URLS.length)];
}

/**
 * Whether the latency and hit-ratio thresholds apply (PERF_THRESHOLDS, default 1). The short forms
 * CI runs (loadtest/k6.sh) set 0: on a 2-core machine shared with k6 itself, latency says more about
 * the machine than about EdgeCache, so CI holds the scripts to correctness only (errors, lengths,
 * origin fetches per object, no purged version after a purge returned).
 */
export const PERF_THRESHOLDS = envString('PERF_THRESHOLDS', '1') !== '0';

/**
 * `thresholds` when PERF_THRESHOLDS is on, else none.
 * @param {Record<string, import('k6/options').Threshold[]>} thresholds
 * @returns {Record<string, import('k6/options').Threshold[]>}
 */
export function perfThresholds(thresholds) {
  return PERF_THRESHOLDS ? thresholds : {};
}

/** Trend statistics every script shows (k6's default has no p(99)). */
export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'];

/** The settings as one object, for logs and summaries (the purge key is never shown). */
export function describeSettings() {
  return {
    EDGE_URLS: EDGE_URLS.join(','),
    HOST,
    ORIGIN_URL,
    PURGE_URL,
    PURGE_KEY: PURGE_KEY === '' ? '(unset)' : '(set)',
  };
}
