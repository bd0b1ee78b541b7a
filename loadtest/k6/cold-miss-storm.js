// Cold-miss storm: many new, never-seen URLs at once, each requested by several VUs at the same
// moment and, within each VU, from every edge in parallel. Collapsing at the edges and the
// consistent-hashed shields must turn that into one origin request per object: teardown reads
// the origin's GET {ORIGIN_URL}/__origin/stats and checks each object was fetched at most once.
//
//   k6 run loadtest/k6/cold-miss-storm.js
//   k6 run -e GROUPS=50 -e FANOUT=8 -e URLS_PER_GROUP=20 loadtest/k6/cold-miss-storm.js
//
// VUs = GROUPS x FANOUT. The FANOUT VUs of a group walk the same URL sequence in step (a
// collapsed miss releases them together), so every URL is asked for by FANOUT VUs x all edges
// at once, while GROUPS different URLs are in flight. Objects: GROUPS x URLS_PER_GROUP.
// Settings: GROUPS (25), FANOUT (4), URLS_PER_GROUP (20), SIZE_MIX ("1k:70,100k:25,1m:5"),
// MAX_DURATION (2m), P99_MS (2000), ERROR_RATE_MAX (0.001).
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import { EDGE_URLS, TREND_STATS, envDuration, envNumber, envString, perfThresholds } from './lib/config.js';
import { edgeParams, header, isEdgeHit, originStats } from './lib/cache.js';
import { SIZE_BYTES, objPath, parseSizeMix, sizeOf } from './lib/objects.js';
import { summaryOutputs } from './lib/summary.js';

const GROUPS = envNumber('GROUPS', 25);
const FANOUT = envNumber('FANOUT', 4);
const URLS_PER_GROUP = envNumber('URLS_PER_GROUP', 20);
const MIX = parseSizeMix(envString('SIZE_MIX', '1k:70,100k:25,1m:5'));

const originFetches = new Trend('origin_fetches_per_object');
const overFetched = new Counter('objects_fetched_more_than_once');
const neverFetched = new Counter('objects_never_fetched');
const edgeHit = new Rate('edge_hit');
const collapsed = new Rate('collapsed');

/** @type {import('k6/options').Options} */
export const options = {
  discardResponseBodies: true,
  summaryTrendStats: TREND_STATS,
  teardownTimeout: '60s',
  scenarios: {
    storm: {
      executor: 'per-vu-iterations',
      vus: GROUPS * FANOUT,
      iterations: URLS_PER_GROUP,
      maxDuration: envDuration('MAX_DURATION', '2m'),
    },
  },
  thresholds: {
    http_req_failed: [`rate<${envNumber('ERROR_RATE_MAX', 0.001)}`],
    ...perfThresholds({ 'http_req_duration{phase:storm}': [`p(99)<${envNumber('P99_MS', 2000)}`] }),
    objects_fetched_more_than_once: ['count==0'],
    objects_never_fetched: ['count==0'],
    'checks{check:origin}': ['rate==1'],
  },
};

/**
 * @typedef {{ run: string }} StormData
 */

/** @returns {StormData} */
export function setup() {
  // A run id makes every URL new, even against a cache that has run this script before.
  const run = `storm-${Date.now().toString(36)}`;
  console.log(`cold-miss storm ${run}: ${GROUPS * URLS_PER_GROUP} new objects, each by ${FANOUT} VUs x ${EDGE_URLS.length} edges at once`);
  return { run };
}

/**
 * The object a group asks for at a step.
 * @param {string} run
 * @param {number} group
 * @param {number} step
 */
function object(run, group, step) {
  const i = group * URLS_PER_GROUP + step;
  const size = sizeOf(i, MIX);
  return { size, path: objPath(size, `${run}-${i}`) };
}

/** @param {StormData} data */
export default function (data) {
  const vu = exec.vu.idInTest - 1;
  const group = Math.floor(vu / FANOUT);
  const step = exec.vu.iterationInScenario;
  const { size, path } = object(data.run, group, step);
  const tags = { phase: 'storm', size, name: `storm-${size}` };
  const responses = http.batch(EDGE_URLS.map((edge) => ({ method: 'GET', url: `${edge}${path}`, params: edgeParams(tags) })));
  for (const res of responses) {
    edgeHit.add(isEdgeHit(res), { size });
    collapsed.add(header(res, 'Cache-Status').includes('collapsed'), { size });
    check(res, {
      'status is 200': (r) => r.status === 200,
      'Content-Length matches the object size': (r) => Number(header(r, 'Content-Length')) === SIZE_BYTES[size],
    });
  }
}

/** @param {StormData} data */
export function teardown(data) {
  const stats = originStats();
  check(stats, { 'origin stats readable (GET /__origin/stats)': (s) => s !== null }, { check: 'origin' });
  if (stats === null) return;

  let over = 0;
  let never = 0;
  /** @type {string[]} */
  const examples = [];
  for (let g = 0; g < GROUPS; g++) {
    for (let step = 0; step < URLS_PER_GROUP; step++) {
      const { path } = object(data.run, g, step);
      const n = stats.byPath[path] || 0;
      originFetches.add(n);
      if (n > 1) {
        over++;
        if (examples.length < 10) examples.push(`${path} x${n}`);
      }

      if (n === 0) never++;
    }
  }

  overFetched.add(over);
  neverFetched.add(never);
  const objects = GROUPS * URLS_PER_GROUP;
  console.log(`origin: ${objects} objects, ${over} fetched more than once, ${never} never fetched`);
  if (examples.length > 0) console.error(`fetched more than once: ${examples.join(', ')}`);
  check(over, { 'each object fetched from the origin at most once': (n) => n === 0 }, { check: 'origin' });
  check(never, { 'each object reached the origin (no request failed before it)': (n) => n === 0 }, { check: 'origin' });
}

/** @param {import('./lib/summary.js').SummaryData} data */
export function handleSummary(data) {
  return summaryOutputs('cold-miss-storm', data);
}
