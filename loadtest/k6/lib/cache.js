// Requests through the edges, and what EdgeCache's response headers say about them.
import http from 'k6/http';
import { HOST, ORIGIN_URL } from './config.js';

/**
 * A response header, whatever its case. k6 joins repeated fields with ", ".
 * @param {import('k6/http').Response} res
 * @param {string} name
 * @returns {string}
 */
export function header(res, name) {
  const h = res.headers;
  if (name in h) return h[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(h)) {
    if (k.toLowerCase() === lower) return h[k];
  }

  return '';
}

/**
 * The members of the Cache-Status field (RFC 9211), upstream tier first, this tier last.
 * @param {import('k6/http').Response} res
 * @returns {string[]}
 */
export function cacheStatusMembers(res) {
  const v = header(res, 'Cache-Status');
  return v === '' ? [] : v.split(',').map((m) => m.trim()).filter((m) => m.length > 0);
}

/**
 * True when the edge answered from its own cache: the last Cache-Status member is the edge's
 * and says `hit` (e.g. "EdgeCache-Edge; hit; ttl=56; detail=memory").
 * @param {import('k6/http').Response} res
 * @returns {boolean}
 */
export function isEdgeHit(res) {
  const members = cacheStatusMembers(res);
  const last = members.length > 0 ? members[members.length - 1] : '';
  return last.startsWith('EdgeCache-Edge; hit');
}

/**
 * True when the edge missed and the shield behind it hit.
 * @param {import('k6/http').Response} res
 * @returns {boolean}
 */
export function isShieldHit(res) {
  return cacheStatusMembers(res).some((m) => m.startsWith('EdgeCache-Shield; hit'));
}

/**
 * The object version a response carries: the load origin's X-Origin-Version, else the number
 * in an ETag like "name-1k-v3". NaN when neither says (the sample origin has no versions).
 * @param {import('k6/http').Response} res
 * @returns {number}
 */
export function versionOf(res) {
  const x = header(res, 'X-Origin-Version');
  if (x !== '') return Number(x);
  const m = /-v(\d+)"$/.exec(header(res, 'ETag'));
  return m ? Number(m[1]) : NaN;
}

/**
 * Request parameters for an edge: the site's Host header, plus tags.
 * @param {Record<string, string>} [tags]
 * @param {Record<string, string>} [headers]
 * @returns {import('k6/http').Params}
 */
export function edgeParams(tags, headers) {
  return { headers: { Host: HOST, ...(headers || {}) }, tags: tags || {} };
}

/**
 * GET a path from an edge.
 * @param {string} edge  base URL
 * @param {string} path  origin-form path and query
 * @param {Record<string, string>} [tags]
 */
export function getFromEdge(edge, path, tags) {
  return http.get(`${edge}${path}`, edgeParams(tags));
}

/**
 * The absolute URL a publisher names in a purge: the edge-facing scheme and the site's host.
 * @param {string} path
 * @returns {string}
 */
export function siteUrl(path) {
  return `http://${HOST}${path}`;
}

/**
 * @typedef {{ requests: number, byPath: Record<string, number>, failMode?: string, failed?: number }} OriginStats
 */

/**
 * The origin's request counts (GET {ORIGIN_URL}/__origin/stats), or null with a logged reason.
 * @returns {OriginStats | null}
 */
export function originStats() {
  // responseType 'text': the scripts discard response bodies by default, and this one is read.
  const res = http.get(`${ORIGIN_URL}/__origin/stats`, { tags: { name: 'origin-stats' }, responseType: 'text', timeout: '30s' });
  if (res.status !== 200) {
    console.error(`GET ${ORIGIN_URL}/__origin/stats answered ${res.status} ${res.error || ''}: is ORIGIN_URL the sample or load origin?`);
    return null;
  }

  return /** @type {OriginStats} */ (res.json());
}

/**
 * POST to one of the load origin's controls (/__origin/fail, /__origin/version). Returns the
 * response; a 404 means the origin is the sample origin, which has no controls.
 * @param {string} pathAndQuery
 */
export function originControl(pathAndQuery) {
  return http.post(`${ORIGIN_URL}${pathAndQuery}`, null, { tags: { name: 'origin-control' }, responseType: 'text' });
}

/** The message for an origin that lacks the load origin's controls. */
export const NEEDS_LOAD_ORIGIN =
  'this script needs the load origin (loadtest/EdgeCache.LoadOrigin) at ORIGIN_URL; the sample origin has no /__origin/fail or /__origin/version. See loadtest/README.md.';
