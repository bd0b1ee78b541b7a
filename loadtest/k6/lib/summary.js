// handleSummary for every script: the end-of-test data as JSON in RESULTS_DIR/<script>.json and
// a plain text table on stdout (no remote jslib import, so it works offline).
import { RESULTS_DIR, describeSettings } from './config.js';

/**
 * @typedef {{ ok: boolean }} ThresholdResult
 * @typedef {{ type: 'counter' | 'gauge' | 'rate' | 'trend', contains?: string,
 *             values: Record<string, number>, thresholds?: Record<string, ThresholdResult> }} SummaryMetric
 * @typedef {{ name: string, path?: string, passes: number, fails: number }} SummaryCheck
 * @typedef {{ name: string, path?: string, groups: SummaryGroup[], checks: SummaryCheck[] }} SummaryGroup
 * @typedef {{ metrics: Record<string, SummaryMetric>, root_group: SummaryGroup,
 *             state?: { testRunDurationMs?: number } }} SummaryData
 */

/**
 * Pads or cuts a cell to a width.
 * @param {string} s
 * @param {number} w
 * @param {boolean} [right]  right-align (numbers)
 */
function cell(s, w, right) {
  if (s.length > w) return `${s.slice(0, w - 1)}…`;
  return right ? s.padStart(w) : s.padEnd(w);
}

/**
 * A number for a table: integers plainly, small values with decimals.
 * @param {number | undefined} n
 * @param {string} [contains]  'time' for milliseconds, 'data' for bytes
 */
function num(n, contains) {
  if (n === undefined || Number.isNaN(n)) return '-';
  if (contains === 'time') return n >= 1000 ? `${(n / 1000).toFixed(2)}s` : `${n.toFixed(n >= 100 ? 0 : 2)}ms`;
  if (contains === 'data') {
    if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)}GiB`;
    if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)}MiB`;
    if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)}KiB`;
    return `${n}B`;
  }

  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/**
 * All checks of a group and its subgroups.
 * @param {SummaryGroup} g
 * @param {SummaryCheck[]} out
 */
function collectChecks(g, out) {
  for (const c of g.checks || []) out.push(c);
  for (const sub of g.groups || []) collectChecks(sub, out);
  return out;
}

/**
 * The text table: one row per metric (sub-metrics under their metric), thresholds marked, then checks.
 * @param {string} script
 * @param {SummaryData} data
 * @returns {string}
 */
export function textTable(script, data) {
  const lines = [];
  const dur = data.state && data.state.testRunDurationMs ? ` in ${(data.state.testRunDurationMs / 1000).toFixed(1)}s` : '';
  lines.push('', `== ${script}${dur} ==`);
  const s = describeSettings();
  lines.push(`edges ${s.EDGE_URLS}  host ${s.HOST}  origin ${s.ORIGIN_URL}  purge ${s.PURGE_URL} (key ${s.PURGE_KEY})`, '');

  const W = [44, 9, 9, 9, 9, 9, 9, 6];
  lines.push(
    [cell('metric', W[0]), cell('avg/rate', W[1], true), cell('p50', W[2], true), cell('p95', W[3], true), cell('p99', W[4], true),
      cell('max', W[5], true), cell('count', W[6], true), cell('thr', W[7], true)].join(' '));
  lines.push('-'.repeat(W.reduce((a, b) => a + b + 1, -1)));

  let failedThresholds = 0;
  const names = Object.keys(data.metrics).sort();
  for (const name of names) {
    const m = data.metrics[name];
    const v = m.values || {};
    const t = m.thresholds ? Object.values(m.thresholds) : [];
    const bad = t.filter((x) => !x.ok).length;
    failedThresholds += bad;
    const thr = t.length === 0 ? '' : bad > 0 ? 'FAIL' : 'ok';
    let row;
    if (m.type === 'trend') {
      row = [num(v.avg, m.contains), num(v.med, m.contains), num(v['p(95)'], m.contains), num(v['p(99)'], m.contains), num(v.max, m.contains), ''];
    } else if (m.type === 'rate') {
      row = [`${(100 * (v.rate || 0)).toFixed(2)}%`, '', '', '', '', num((v.passes || 0) + (v.fails || 0))];
    } else if (m.type === 'counter') {
      row = [`${num(v.rate)}/s`, '', '', '', '', num(v.count, m.contains)];
    } else {
      row = [num(v.value, m.contains), '', '', '', num(v.max, m.contains), ''];
    }

    const indent = name.includes('{') ? '  ' : '';
    lines.push([cell(indent + name, W[0]), ...row.map((c, i) => cell(c, W[i + 1], true)), cell(thr, W[7], true)].join(' '));
  }

  const checks = collectChecks(data.root_group, []);
  if (checks.length > 0) {
    lines.push('', 'checks:');
    for (const c of checks) {
      const total = c.passes + c.fails;
      const mark = c.fails === 0 ? 'ok  ' : 'FAIL';
      lines.push(`  ${mark} ${c.name}  (${c.passes}/${total} passed)`);
    }
  }

  lines.push('', failedThresholds === 0 ? 'thresholds: all passed' : `thresholds: ${failedThresholds} FAILED`, '');
  return lines.join('\n');
}

/**
 * The handleSummary result for a script: JSON file plus text on stdout.
 * @param {string} script  name without .js (the JSON file is RESULTS_DIR/<script>.json)
 * @param {SummaryData} data
 * @returns {Record<string, string>}
 */
export function summaryOutputs(script, data) {
  /** @type {Record<string, string>} */
  const out = {};
  out[`${RESULTS_DIR}/${script}.json`] = JSON.stringify({ script, settings: describeSettings(), ...data }, null, 2);
  out.stdout = textTable(script, data);
  return out;
}
