// Origin failure: warms objects whose freshness is short (max-age=TTL) but whose stale-if-error
// is long (SIE), keeps reading them from every edge, and fails the origin mid-run. Reads must keep
// succeeding: once the objects are stale the caches try the origin, it fails, and RFC 5861
// stale-if-error lets them serve what they hold.
//
//   k6 run loadtest/k6/origin-failure.js                      # the script fails the load origin itself
//   k6 run -e FAIL_MODE=reset loadtest/k6/origin-failure.js   # ... by aborting its connections
//   k6 run -e FAIL_MODE=manual loadtest/k6/origin-failure.js  # you stop the origin when told
//
// FAIL_MODE=503 (default) or reset needs the load origin (loadtest/EdgeCache.LoadOrigin) at
// ORIGIN_URL: at FAIL_AT the script POSTs /__origin/fail?mode=503|reset, and FAIL_FOR later
// /__origin/fail?mode=off. With FAIL_MODE=manual the script prints, at FAIL_AT, that the operator
// must stop the origin now (kill its process), and watches GET /__origin/stats to see it go down;
// restart the origin when it says so. (With the sample origin, whose objects are fresh for an
// hour, manual mode shows only that fresh hits survive; use the load origin to test stale-if-error.)
// Settings: FAIL_OBJECTS (50), SIZE_MIX ("1k:80,100k:20"), TTL (2), SIE (600), READ_VUS (16),
// DURATION (40s), FAIL_AT (10, seconds), FAIL_FOR (20, seconds), FAIL_MODE (503).
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Rate, Trend } from 'k6/metrics';
import { EDGE_URLS, ORIGIN_URL, TREND_STATS, envDuration, envNumber, envString, perfThresholds, randomEdge, seconds } from './lib/config.js';
import { NEEDS_LOAD_ORIGIN, getFromEdge, header, isEdgeHit, originControl, originStats } from './lib/cache.js';
import { SIZE_BYTES, objPath, parseSizeMix, sizeOf } from './lib/objects.js';
import { summaryOutputs } from './lib/summary.js';

const OBJECTS = envNumber('FAIL_OBJECTS', 50);
const MIX = parseSizeMix(envString('SIZE_MIX', '1k:80,100k:20'));
const TTL = envNumber('TTL', 2);
const SIE = envNumber('SIE', 600);
const DURATION = envDuration('DURATION', '40s');
const FAIL_AT = envNumber('FAIL_AT', 10);
const FAIL_FOR = envNumber('FAIL_FOR', 20);
const FAIL_MODE = envString('FAIL_MODE', '503');
if (!['503', 'reset', 'manual'].includes(FAIL_MODE)) throw new Error(`FAIL_MODE must be 503, reset or manual (got '${FAIL_MODE}')`);
if (FAIL_AT + FAIL_FOR + 3 > seconds(DURATION)) throw new Error(`DURATION (${DURATION}) must outlast FAIL_AT + FAIL_FOR + 3 s so reads after recovery are seen`);
const MANUAL = FAIL_MODE === 'manual';

const readOk = new Rate('read_ok');
const staleServed = new Rate('stale_served');
const originDown = new Rate('origin_down_observed');
const readLatency = new Trend('read_duration', true);

/** @type {import('k6/options').Options['thresholds']} */
const thresholds = {
  'read_ok{phase:before}': ['rate>0.999'],
  'read_ok{phase:failure}': ['rate>0.999'],
  'read_ok{phase:after}': ['rate>0.999'],
  ...perfThresholds({ 'read_duration{phase:failure}': ['p(99)<1000'] }),
  'checks{check:chaos}': ['rate==1'],
};
if (!MANUAL) {
  // Proof that stale-if-error was exercised: during the failure most reads are past their TTL.
  thresholds['stale_served{phase:failure}'] = ['rate>0.5'];
}

/** @type {import('k6/options').Options} */
export const options = {
  discardResponseBodies: true,
  summaryTrendStats: TREND_STATS,
  setupTimeout: '120s',
  scenarios: {
    readers: { executor: 'constant-vus', vus: envNumber('READ_VUS', 16), duration: DURATION, exec: 'read' },
    chaos: {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: 1,
      startTime: `${FAIL_AT}s`,
      maxDuration: `${FAIL_FOR + 30}s`,
      exec: 'chaos',
    },
  },
  thresholds,
};

/**
 * @typedef {{ t0: number, objects: { path: string, size: string }[] }} FailData
 */

/** @returns {FailData} */
export function setup() {
  if (!MANUAL) {
    const probe = originControl('/__origin/fail?mode=off');
    if (probe.status !== 200) exec.test.abort(`${NEEDS_LOAD_ORIGIN} (POST /__origin/fail answered ${probe.status})`);
  }

  const run = Date.now().toString(36);
  const objects = [];
  for (let i = 0; i < OBJECTS; i++) {
    const size = sizeOf(i, MIX);
    objects.push({ size, path: objPath(size, `sie-${run}-${i}`, `ttl=${TTL}&sie=${SIE}`) });
  }

  for (const o of objects) {
    for (const edge of EDGE_URLS) {
      const res = getFromEdge(edge, o.path, { name: 'warm' });
      check(res, { 'warm: 200': (r) => r.status === 200 }, { check: 'warm' });
      const cc = header(res, 'Cache-Control');
      if (!cc.includes('stale-if-error')) {
        console.warn(`warm: ${o.path} has Cache-Control '${cc}' without stale-if-error (the sample origin ignores ttl/sie; use the load origin)`);
      }
    }
  }

  const mode = MANUAL ? 'you stop the origin' : `the origin answers ${FAIL_MODE === 'reset' ? 'with aborted connections' : '503'}`;
  console.log(`origin failure: ${OBJECTS} objects (max-age=${TTL}, stale-if-error=${SIE}); from ${FAIL_AT}s for ${FAIL_FOR}s ${mode}`);
  if (MANUAL) {
    console.warn(`MANUAL MODE: at ${FAIL_AT}s you will be told to stop the origin at ${ORIGIN_URL} (kill its process); restart it ${FAIL_FOR}s later when told.`);
  }

  return { t0: Date.now(), objects };
}

/**
 * The phase of the run a moment belongs to, with a second's margin either side of each switch.
 * @param {number} elapsed  seconds since the readers started
 */
function phaseAt(elapsed) {
  if (elapsed < FAIL_AT) return 'before';
  if (elapsed >= FAIL_AT + 1 && elapsed < FAIL_AT + FAIL_FOR) return 'failure';
  if (elapsed >= FAIL_AT + FAIL_FOR + 1) return 'after';
  return 'switching';
}

/** Readers: every read of a cached object must succeed, whatever the origin does. @param {FailData} data */
export function read(data) {
  const o = data.objects[Math.floor(Math.random() * data.objects.length)];
  const phase = phaseAt((Date.now() - data.t0) / 1000);
  const res = getFromEdge(randomEdge(), o.path, { name: `read-${o.size}`, phase });
  const ok = res.status === 200 && Number(header(res, 'Content-Length')) === SIZE_BYTES[o.size];
  readOk.add(ok, { phase });
  readLatency.add(res.timings.duration, { phase });
  if (ok) staleServed.add(Number(header(res, 'Age')) > TTL, { phase, hit: String(isEdgeHit(res)) });
  if (!ok && phase === 'failure') console.error(`read failed during the origin failure: ${o.path} -> ${res.status} ${res.error || ''}`);
  check(res, { 'read: 200 with the whole object': () => ok }, { check: 'read', phase });
}

/** The failure itself: one iteration at FAIL_AT, lasting FAIL_FOR. */
export function chaos() {
  if (MANUAL) {
    console.warn(`>>> STOP THE ORIGIN NOW (${ORIGIN_URL}): kill its process. Restart it in ${FAIL_FOR}s when told. <<<`);
    let downSeen = false;
    const until = Date.now() + FAIL_FOR * 1000;
    while (Date.now() < until) {
      const res = http.get(`${ORIGIN_URL}/__origin/stats`, { tags: { name: 'origin-probe' }, timeout: '1s', responseCallback: http.expectedStatuses({ min: 0, max: 599 }) });
      const down = res.status === 0 || res.status >= 500;
      originDown.add(down);
      downSeen = downSeen || down;
      sleep(1);
    }

    console.warn(`>>> RESTART THE ORIGIN NOW (${ORIGIN_URL}). <<<`);
    check(downSeen, { 'the origin was seen down during the failure window': (d) => d }, { check: 'chaos' });
    return;
  }

  const fail = originControl(`/__origin/fail?mode=${FAIL_MODE}`);
  check(fail, { 'origin set to fail': (r) => r.status === 200 }, { check: 'chaos' });
  console.log(`origin failing (${FAIL_MODE}) for ${FAIL_FOR}s`);
  sleep(FAIL_FOR);
  const recover = originControl('/__origin/fail?mode=off');
  check(recover, { 'origin recovered': (r) => r.status === 200 }, { check: 'chaos' });
  console.log('origin recovered');
}

export function teardown() {
  if (MANUAL) return;
  // Leave the origin healthy whatever happened, and show that the caches really asked it while it failed.
  originControl('/__origin/fail?mode=off');
  const stats = originStats();
  check(stats, {
    'the caches tried the failing origin (stale entries were revalidated, not just fresh hits served)': (s) => s !== null && (s.failed || 0) > 0,
  }, { check: 'chaos' });
}

/** @param {import('./lib/summary.js').SummaryData} data */
export function handleSummary(data) {
  return summaryOutputs('origin-failure', data);
}
