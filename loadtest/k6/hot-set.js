// Hot-set reads: Zipf-distributed keys over a fixed object set with a 1 KiB / 100 KiB / 1 MiB size
// mix, spread over the edges. Thresholds: p95/p99 latency, error rate, edge hit ratio (from the
// last Cache-Status member).
//
//   k6 run loadtest/k6/hot-set.js
//   k6 run -e OBJECTS=10000 -e ZIPF_S=0.8 -e VUS=64 -e DURATION=1m loadtest/k6/hot-set.js
//
// Settings (besides the common EDGE_URLS, HOST, ORIGIN_URL): OBJECTS (1000), ZIPF_S (1.0),
// SIZE_MIX ("1k:80,100k:18,1m:2"), VUS (32), DURATION (30s), RUN_ID (names the object set;
// default "hot", so repeated runs reuse a warm cache), P95_MS (50), P99_MS (100; 1 MiB at least 150),
// ERROR_RATE_MAX (0.001), HIT_RATIO_MIN (0.9).
import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { TREND_STATS, envDuration, envNumber, envString, perfThresholds, randomEdge } from './lib/config.js';
import { getFromEdge, header, isEdgeHit, isShieldHit } from './lib/cache.js';
import { SIZE_BYTES, Zipf, objPath, parseSizeMix, sizeOf } from './lib/objects.js';
import { summaryOutputs } from './lib/summary.js';

const OBJECTS = envNumber('OBJECTS', 1000);
const ZIPF_S = envNumber('ZIPF_S', 1.0);
const MIX = parseSizeMix(envString('SIZE_MIX', '1k:80,100k:18,1m:2'));
const RUN_ID = envString('RUN_ID', 'hot');
const P95_MS = envNumber('P95_MS', 50);
const P99_MS = envNumber('P99_MS', 100);

const zipf = new Zipf(OBJECTS, ZIPF_S);

const edgeHit = new Rate('edge_hit');
const shieldHit = new Rate('shield_hit_on_edge_miss');
const wrongLength = new Counter('wrong_length');
const ttfb = new Trend('ttfb', true);

/** @type {import('k6/options').Options} */
export const options = {
  discardResponseBodies: true,
  summaryTrendStats: TREND_STATS,
  scenarios: {
    hot_set: {
      executor: 'constant-vus',
      vus: envNumber('VUS', 32),
      duration: envDuration('DURATION', '30s'),
    },
  },
  thresholds: {
    http_req_failed: [`rate<${envNumber('ERROR_RATE_MAX', 0.001)}`],
    wrong_length: ['count==0'],
    ...perfThresholds({
      http_req_duration: [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
      // Per-size latency, shown in the summary (the 1 MiB objects are bounded by bandwidth, not the cache).
      'http_req_duration{size:1k}': [`p(99)<${P99_MS}`],
      'http_req_duration{size:100k}': [`p(99)<${P99_MS}`],
      'http_req_duration{size:1m}': [`p(99)<${Math.max(P99_MS, 150)}`],
      edge_hit: [`rate>${envNumber('HIT_RATIO_MIN', 0.9)}`],
    }),
  },
};

export function setup() {
  const shareTop10 = zipf.topShare(Math.ceil(OBJECTS / 10));
  console.log(`hot set: ${OBJECTS} objects, Zipf s=${ZIPF_S} (the top 10% of objects get ${(100 * shareTop10).toFixed(1)}% of reads), sizes ${MIX.map((m) => `${m.size}:${m.weight}`).join(',')}`);
}

export default function () {
  const rank = zipf.next();
  const size = sizeOf(rank, MIX);
  const res = getFromEdge(randomEdge(), objPath(size, `${RUN_ID}-${rank}`), { size, name: `obj-${size}` });
  const hit = isEdgeHit(res);
  edgeHit.add(hit, { size });
  if (!hit) shieldHit.add(isShieldHit(res), { size });
  ttfb.add(res.timings.waiting, { size });
  const lengthOk = Number(header(res, 'Content-Length')) === SIZE_BYTES[size] || res.status !== 200;
  if (!lengthOk) wrongLength.add(1, { size });
  check(res, {
    'status is 200': (r) => r.status === 200,
    'Content-Length matches the object size': () => lengthOk,
    'Cache-Status present': (r) => header(r, 'Cache-Status') !== '',
  });
}

/** @param {import('./lib/summary.js').SummaryData} data */
export function handleSummary(data) {
  return summaryOutputs('hot-set', data);
}
