// Browser benchmark: the same jobs in headless Chromium (wasm, through the page) and in the
// native CLI, measured in the same run, printed as a markdown table with ratios.
//
//   bench/browser.sh                      # builds the site and the CLI, then runs this
//   AFFINITY_DIST=/tmp/dist AFFINITY_BIN=target/release/affinity node bench/browser.mjs
//
// Environment:
//   AFFINITY_DIST   the built release site (default <repo>/dist)
//   AFFINITY_BIN    the native `affinity` binary (default <repo>/target/release/affinity)
//   DATA            MovieLens 100K directory (default <repo>/../shared/data/ml-100k); when it is
//                   missing the benchmark prints SKIPPED on stderr and exits 0
//   BENCH_SIZES     synthetic sizes, comma-separated (default 1000000,10000000; "" for none)
//   BENCH_REPEAT    repetitions of the u.data fit, best kept on both sides (default 3)
//   BENCH_CV_REPEAT repetitions of each CV job, best kept on both sides; the page's 1-worker and
//                   2-worker runs alternate, so a noisy minute does not fall on one side only
//                   (default 2)
//   BENCH_WORK      where the synthetic files are written and kept (default <tmp>/affinity-bench)
//
// Jobs (the page's own numbers where it reports them, else wall time measured in the page):
//   fit      u.data, 80% training share, rank 40, maxIter 10, regParam 0.1, seed 42, no biases:
//            the page's "Fitted in" time against `affinity eval --split 0.8` fit_seconds (the
//            same split of the same file, so the same fit). Also with one worker against one
//            native thread, and against one native thread of 128-bit lanes (AFFINITY_LANES=128,
//            SSE2 as wasm's simd128 is 128 bits wide, where the CLI otherwise uses AVX2's 256):
//            which part of the gap is the lanes' width, which the wasm engine's own. Where the
//            processor has FMA, the CLI's AVX2 fit and the page's worker (relaxed SIMD) fuse the
//            Gram kernel's multiply-adds and the 128-bit native fit does not; so the 1-worker fit
//            also runs with the worker without relaxed SIMD (Safari's build, unfused), which
//            gives the 128-bit native fit's very model. The native
//            fits alternate with the page's, one (or one of each kind) before each, so that a
//            slow minute of the machine falls on both sides; the note also gives the median of
//            the ratios of each page fit to the native fit just before it.
//   cv       3 folds × rank {10, 40} × regParam {0.05, 0.1, 0.2} on the 80% share, then the final
//            fit and its scores: click-to-scores wall time with ?workers=1 and ?workers=2 against
//            `affinity cv --split 0.8` (native threads: 1 via taskset, and all cores).
//   top-10   every user's top 10 from a rank-10 model: the page's Export "Every user's list"
//            (ranking, CSV, download) against `affinity bench`'s recommend_all time.
//   synth N  `affinity gen` file of N ratings: load (pick to summary), train (rank 20, maxIter 10,
//            no CV, no biases: click to scores) and one user's recommendations, with the peak
//            renderer memory (VmHWM of the tab's process, workers included) and the page's peak
//            JS heap (CDP Performance.getMetrics), against `affinity eval --split 0.8
//            --ranking-users 3000` wall time (read, parse, split, fit, scores on the page's
//            sample of test users) and peak RSS. The page's long tasks (≥ 50 ms) are counted
//            by step: loading and training each run until the library lists what the page
//            saves after it (the dataset, the model), as that saving is part of the step.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { fittedMsIn } from './udata_job.mjs';
import { REPO_ROOT, distDir, startServer, launchBrowser, openRecordedPage, waitUntil, numbersIn, siteWithoutRelaxedSimd } from '../tests/e2e/harness.mjs';

const DATA = path.resolve(process.env.DATA || path.join(REPO_ROOT, '..', 'shared', 'data', 'ml-100k'));
const UDATA = path.join(DATA, 'u.data');
const BIN = path.resolve(process.env.AFFINITY_BIN || path.join(REPO_ROOT, 'target', 'release', 'affinity'));
const SIZES = (process.env.BENCH_SIZES ?? '1000000,10000000')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map(Number);
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT || 3));
const CV_REPEAT = Math.max(1, Number(process.env.BENCH_CV_REPEAT || 2));
const WORK = path.resolve(process.env.BENCH_WORK || path.join(os.tmpdir(), 'affinity-bench'));
const SEED = 42;
const CV_RANKS = [10, 40];
const CV_REGS = [0.05, 0.1, 0.2];
const SYNTH_WAIT = 30 * 60_000;

const sel = (id) => `[data-testid="${id}"]`;
const log = (...a) => console.error('[bench]', ...a);

// ---------------------------------------------------------------------------------------------
// Native side

/**
 * Runs the CLI; resolves to { wall (s), json (parsed stdout or null), peakKiB, stdout }.
 * `cpus` (e.g. "0") pins it with taskset, which also makes available_parallelism() report 1.
 */
function runNative(args, { cpus, env } = {}) {
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
  let cmd = BIN;
  let argv = args;
  if (timeBin) {
    argv = ['-f', '__peak_kib %M', cmd, ...argv];
    cmd = timeBin;
  }
  if (cpus != null) {
    argv = ['-c', cpus, cmd, ...argv];
    cmd = 'taskset';
  }
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`${BIN} ${args.join(' ')} exited ${code}: ${err.trim()}`));
      const peak = err.match(/__peak_kib (\d+)/);
      let json = null;
      try {
        json = JSON.parse(out.trim().split('\n').pop());
      } catch {
        // not a JSON command
      }
      resolve({ wall, json, peakKiB: peak ? Number(peak[1]) : null, stdout: out });
    });
  });
}

/** `affinity gen` of `n` ratings (MovieLens' shape grown like `affinity bench` grows it), cached. */
async function syntheticFile(n) {
  mkdirSync(WORK, { recursive: true });
  const users = Math.max(943, Math.floor(n / 106));
  const items = Math.max(1682, Math.floor(n / 60));
  const file = path.join(WORK, `synth-${n}-u${users}-i${items}-s${SEED}.csv`);
  if (!existsSync(file)) {
    log(`affinity gen ${n} ratings -> ${file}`);
    await runNative(['gen', '--users', users, '--items', items, '--ratings', n, '--seed', SEED, '--out', file].map(String));
  }
  return { file, users, items, bytes: statSync(file).size };
}

// ---------------------------------------------------------------------------------------------
// Browser side

/** Resident and peak resident memory (KiB) of Chromium's renderer processes, by pid. */
async function rendererMemory(browserCdp) {
  const { processInfo } = await browserCdp.send('SystemInfo.getProcessInfo');
  const out = [];
  for (const p of processInfo) {
    if (p.type !== 'renderer') continue;
    try {
      const status = readFileSync(`/proc/${p.id}/status`, 'utf8');
      const kib = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
      out.push({ pid: p.id, rss: kib('VmRSS'), hwm: kib('VmHWM') });
    } catch {
      // the process ended
    }
  }
  return out;
}

/**
 * Samples memory every 250 ms until stopped: the largest renderer VmHWM and the page's peak
 * JSHeapUsedSize (main thread only; workers have their own heaps, counted in the renderer).
 */
function memorySampler(browserCdp, pageCdp) {
  const peak = { rendererHwmKiB: 0, rendererRssKiB: 0, jsHeapBytes: 0 };
  let stopped = false;
  const tick = async () => {
    while (!stopped) {
      try {
        const procs = await rendererMemory(browserCdp);
        for (const p of procs) {
          peak.rendererHwmKiB = Math.max(peak.rendererHwmKiB, p.hwm || 0);
          peak.rendererRssKiB = Math.max(peak.rendererRssKiB, p.rss || 0);
        }
        const { metrics } = await pageCdp.send('Performance.getMetrics');
        const heap = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
        peak.jsHeapBytes = Math.max(peak.jsHeapBytes, heap);
      } catch {
        // the page may be busy or gone; try again
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const running = tick();
  return {
    peak,
    stop: async () => {
      stopped = true;
      await running;
      return peak;
    },
  };
}

/** Records every long task (≥ 50 ms) of the page's main thread from the first script on. */
const LONGTASK_INIT = () => {
  window.__benchLongTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__benchLongTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // no longtask support: the list stays empty
  }
};

/**
 * Waits until the library lists `n` rows of `kind` (the page saves a loaded dataset and a
 * trained model right after showing them: the saving is part of the step), then a little
 * longer, as the PerformanceObserver reports a long task only after it ends.
 */
async function settle(rec, kind, n) {
  await rec.wait(`the library to list ${n} ${kind} row(s)`, async () => {
    const count = await rec.page.locator(`[data-testid="library-row"][data-kind="${kind}"]`).count();
    return { done: count >= n, value: count, seen: String(count) };
  }, 120_000).catch((e) => log(`(not saved within 2 minutes, counting the long tasks so far: ${e.message.split('\n')[0]})`));
  await new Promise((r) => setTimeout(r, 500));
}

/** The long tasks (≥ 50 ms) that ended in [from, to) of the page's clock, as "ms at +s". */
async function longTasksBetween(page, from, to = Infinity) {
  return page.evaluate(
    ([a, b]) => window.__benchLongTasks.filter((e) => e.start + e.duration >= a && e.start + e.duration < b)
      .map((e) => `${Math.round(e.duration)} ms at +${(e.start / 1000).toFixed(1)} s`),
    [from, to],
  );
}

async function longestTaskSince(page, since) {
  return page.evaluate(
    (t) => Math.round(Math.max(0, ...window.__benchLongTasks.filter((e) => e.start + e.duration >= t).map((e) => e.duration))),
    since,
  );
}

/** Opens the site (with ?workers=N when given) in a fresh context; returns the recorded page. */
async function openApp(browser, server, { workers } = {}) {
  const rec = await openRecordedPage(browser, server.origin);
  const { page, context } = rec;
  context.setDefaultTimeout(SYNTH_WAIT);
  await page.addInitScript(LONGTASK_INIT);
  await page.goto(server.url(workers ? `/?workers=${workers}` : '/'), { waitUntil: 'load' });
  await waitUntil('the app to mount', async () => (await page.locator(sel('ratings-file')).count()) > 0, { timeout: 60_000 });
  const failFast = () => (rec.problems.pageErrors.length ? `uncaught error in the page: ${rec.problems.pageErrors[0]}` : null);
  rec.wait = (what, probe, timeout = SYNTH_WAIT) => waitUntil(what, probe, { timeout, interval: 100, failFast });
  return rec;
}

/**
 * Starts an in-page clock, runs `act` (from node), and resolves to the milliseconds until the
 * page reached `goal` (checked on every DOM change, so the time is exact to a microtask):
 *   { kind: 'scores' }        test-rmse appears after having been absent (a run finished)
 *   { kind: 'summary', n }    the dataset summary shows n ratings
 *   { kind: 'rows', n }       n rec-row elements
 * Fails early when the error element shows something.
 */
async function timeUntil(rec, what, goal, act, timeout = SYNTH_WAIT) {
  const { page } = rec;
  await page.evaluate((g) => {
    const q = (id) => document.querySelector(`[data-testid="${id}"]`);
    const state = { t0: performance.now(), done: null, cleared: !q('test-rmse'), error: null, goal: g };
    const check = () => {
      if (state.done != null) return;
      const err = q('error');
      if (err && err.innerText.trim()) state.error = err.innerText.trim();
      let reached = false;
      if (g.kind === 'scores') {
        if (!q('test-rmse')) state.cleared = true;
        else reached = state.cleared;
      } else if (g.kind === 'summary') {
        const s = q('dataset-summary');
        const text = s ? s.innerText.replace(/,/g, '') : '';
        reached = new RegExp(`Ratings\\s*${g.n}\\b`).test(text);
      } else if (g.kind === 'rows') {
        reached = document.querySelectorAll('[data-testid="rec-row"]').length === g.n;
      }
      if (reached) {
        state.done = performance.now();
        obs.disconnect();
      }
    };
    const obs = new MutationObserver(check);
    obs.observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true });
    window.__benchTimer = state;
  }, goal);
  const since = await page.evaluate(() => window.__benchTimer.t0);
  await act();
  const state = await rec.wait(
    what,
    async () => {
      const s = await page.evaluate(() => window.__benchTimer);
      if (s.error) throw new Error(`the page shows an error: ${s.error}`);
      return { done: s.done != null, value: s, seen: JSON.stringify(s) };
    },
    timeout,
  ).catch(async (e) => {
    const s = await page.evaluate(() => window.__benchTimer).catch(() => null);
    if (s?.error) throw new Error(`${what}: the page shows an error: ${s.error}`);
    throw e;
  });
  return { ms: state.done - state.t0, since };
}

/** Types the training form. `cv` is null (off) or { ranks, regs, iters, folds }. */
async function setForm(page, { rank, maxIter, reg = 0.1, split = 80, biases = false, cv = null }) {
  await page.locator(sel('param-rank')).fill(String(rank));
  await page.locator(sel('param-max-iter')).fill(String(maxIter));
  await page.locator(sel('param-reg-param')).fill(String(reg));
  await page.locator(sel('param-split')).fill(String(split));
  await page.locator(sel('param-seed')).fill(String(SEED));
  await page.locator(sel('param-biases')).setChecked(biases);
  await page.locator(sel('cv-enabled')).setChecked(!!cv);
  if (cv) {
    await page.locator(sel('cv-ranks')).fill(cv.ranks.join(', '));
    await page.locator(sel('cv-reg-params')).fill(cv.regs.join(', '));
    await page.locator(sel('cv-max-iters')).fill(String(cv.iters));
    await page.locator(sel('cv-folds')).fill(String(cv.folds));
  }
}

/** Loads a ratings file through the file input; returns { ms until the summary, since }. */
async function loadFile(rec, file, nRatings) {
  return timeUntil(rec, `the summary to show ${nRatings} ratings`, { kind: 'summary', n: nRatings }, () =>
    rec.page.locator(sel('ratings-file')).setInputFiles(file),
  );
}

/** Clicks Train; returns { wallMs, fitMs (the page's "Fitted in"), rmse, since }. */
async function train(rec) {
  const { page } = rec;
  const { ms, since } = await timeUntil(rec, 'the test scores', { kind: 'scores' }, () => page.locator(sel('train')).click());
  const hint = await page.locator('.score .hint').first().innerText();
  const fitMs = fittedMsIn(hint);
  const rmse = numbersIn((await page.locator(sel('test-rmse')).innerText()) || '')[0];
  return { wallMs: ms, fitMs, rmse, since, hint };
}

/** Asks for user `user`'s list; returns { ms until 10 rows show, since }. */
async function recommend(rec, user) {
  const { page } = rec;
  await page.locator(sel('user-id')).fill(String(user));
  return timeUntil(rec, `10 recommendations for ${user}`, { kind: 'rows', n: 10 }, () => page.locator(sel('recommend')).click());
}

// ---------------------------------------------------------------------------------------------
// Jobs

/** The u.data fit, best of REPEAT; with `workers` (1), on that many workers only; else on the
 * whole pool, followed by the export of every user's top 10. `beforeEach` (the native side's
 * fits) runs before each of the page's, while the page waits. */
async function fitJob(browser, server, { workers, beforeEach = async () => {} } = {}) {
  const rec = await openApp(browser, server, { workers });
  try {
    const n = await ratingsIn(UDATA);
    const loadMs = (await loadFile(rec, UDATA, n)).ms;
    await setForm(rec.page, { rank: 40, maxIter: 10 });
    const fits = [];
    for (let k = 0; k < REPEAT; k++) {
      await beforeEach();
      fits.push(await train(rec));
    }
    log(`page fit u.data rank 40${workers ? `, ${workers} worker(s)` : ''}: ${fits.map((f) => `${f.fitMs} ms (wall ${f.wallMs.toFixed(0)} ms)`).join(', ')}; RMSE ${fits[0].rmse}`);
    if (workers) return { fitMs: Math.min(...fits.map((f) => f.fitMs)), allFitMs: fits.map((f) => f.fitMs), problems: rec.problemReport() };
    // The top 10 of every user, from a rank-10 model (what `affinity bench` times).
    await setForm(rec.page, { rank: 10, maxIter: 10 });
    await train(rec);
    const exportMs = await rec.page.evaluate(() => {
      const t0 = performance.now();
      document.querySelector('[data-testid="export-all-csv"]').click();
      return performance.now() - t0;
    });
    const status = await rec.wait('the export status', async () => {
      const t = (await rec.page.locator(sel('export-status')).innerText()).trim();
      return { done: /Saved|Nothing saved/.test(t), value: t, seen: t };
    }, 60_000);
    log(`page export all users: ${exportMs.toFixed(0)} ms: ${status}`);
    return { loadMs, fitMs: Math.min(...fits.map((f) => f.fitMs)), allFitMs: fits.map((f) => f.fitMs), fitWallMs: Math.min(...fits.map((f) => f.wallMs)), rmse: fits[0].rmse, exportMs, exportStatus: status, problems: rec.problemReport() };
  } finally {
    await rec.context.close();
  }
}

async function cvJob(browser, server, workers) {
  const rec = await openApp(browser, server, { workers });
  try {
    const n = await ratingsIn(UDATA);
    await loadFile(rec, UDATA, n);
    await setForm(rec.page, { rank: 10, maxIter: 10, cv: { ranks: CV_RANKS, regs: CV_REGS, iters: 10, folds: 3 } });
    const plan = (await rec.page.locator(sel('cv-plan')).innerText()).trim();
    const spread = plan.match(/spread over (\d+) worker/);
    if (!spread || Number(spread[1]) !== workers) throw new Error(`?workers=${workers} was not applied: the plan says ${JSON.stringify(plan)}`);
    const r = await train(rec);
    const longest = await longestTaskSince(rec.page, r.since);
    log(`page cv, ${workers} worker(s): ${r.wallMs.toFixed(0)} ms; longest main-thread task ${longest} ms; ${plan}`);
    return { wallMs: r.wallMs, longestTaskMs: longest, problems: rec.problemReport() };
  } finally {
    await rec.context.close();
  }
}

async function synthJob(browser, browserCdp, server, n) {
  const { file, bytes } = await syntheticFile(n);
  const rec = await openApp(browser, server);
  const pageCdp = await rec.context.newCDPSession(rec.page);
  await pageCdp.send('Performance.enable');
  const sampler = memorySampler(browserCdp, pageCdp);
  const result = { n, bytes };
  try {
    const load = await loadFile(rec, file, n);
    result.loadMs = load.ms;
    // From the pick until the dataset is stored: the page's own start (compiling and mounting
    // the app) is not loading.
    await settle(rec, 'dataset', 1);
    result.startTasks = await longTasksBetween(rec.page, 0, load.since);
    result.longestLoadTaskMs = await longestTaskSince(rec.page, load.since);
    log(`page synth ${n}: loaded in ${result.loadMs.toFixed(0)} ms, longest page task ${result.longestLoadTaskMs} ms; long tasks of the page's start: ${result.startTasks.join(', ') || 'none'}; of loading: ${(await longTasksBetween(rec.page, load.since)).join(', ') || 'none'}`);
    await setForm(rec.page, { rank: 20, maxIter: 10 });
    const t = await train(rec);
    result.trainWallMs = t.wallMs;
    result.fitMs = t.fitMs;
    // Until the model is stored.
    await settle(rec, 'model', 1);
    result.longestTrainTaskMs = await longestTaskSince(rec.page, t.since);
    log(`page synth ${n}: trained in ${t.wallMs.toFixed(0)} ms (fit ${t.fitMs} ms), RMSE ${t.rmse}; long tasks until the model was stored: ${(await longTasksBetween(rec.page, t.since)).join(', ') || 'none'}`);
    const firstUser = (await readFirstUser(file)) ?? '0';
    const r = await recommend(rec, firstUser);
    result.recommendMs = r.ms;
    result.longestRecommendTaskMs = await longestTaskSince(rec.page, r.since);
    result.longestTaskMs = await longestTaskSince(rec.page, 0);
    log(`page synth ${n}: recommended in ${result.recommendMs.toFixed(0)} ms, longest page task ${result.longestRecommendTaskMs} ms`);
  } catch (e) {
    result.error = e.message.split('\n')[0];
    log(`page synth ${n} failed: ${e.message}`);
  } finally {
    Object.assign(result, await sampler.stop());
    result.problems = rec.problemReport();
    await rec.context.close();
  }
  return result;
}

async function ratingsIn(file) {
  // u.data has no header; a header line, when present, is not a rating.
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').filter((l) => l.trim());
  return /^\d/.test(lines[0]) ? lines.length : lines.length - 1;
}

async function readFirstUser(file) {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(4096);
  const got = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const line = head.subarray(0, got).toString('utf8').split('\n').find((l) => /^\S+[,\t]/.test(l) && !/^user/i.test(l));
  return line?.split(/[,\t]/)[0];
}

// ---------------------------------------------------------------------------------------------
// Report

const sec = (ms) => (ms == null || !Number.isFinite(ms) ? 'n/a' : `${(ms / 1000).toFixed(3)} s`);
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}` : 'n/a');
const mib = (kib) => (kib ? `${(kib / 1024).toFixed(0)} MiB` : 'n/a');

async function main() {
  if (!existsSync(UDATA)) {
    console.error(`SKIPPED: MovieLens 100K not found at ${UDATA} (set DATA to its directory).`);
    return;
  }
  if (!existsSync(BIN)) throw new Error(`No native CLI at ${BIN}: build it (cargo build --release -p affinity-cli) or set AFFINITY_BIN.`);
  const started = new Date();
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const rows = [];

  // The u.data fits alternate with the page's (see fitJob): the machine's speed drifts from
  // minute to minute, and fits of a tenth of a second feel it. The rest of the native side
  // runs first (one job after the other, nothing else of ours running).
  const fitArgs = ['eval', '--ratings', UDATA, '--split', '0.8', '--rank', '40', '--max-iter', '10', '--reg-param', '0.1', '--seed', String(SEED), '--json'];
  const nativeFits = [];
  const nativeFits1 = [];
  const nativeFits128 = [];
  const cvArgs = ['cv', '--ratings', UDATA, '--folds', '3', '--rank', CV_RANKS.join(','), '--reg-param', CV_REGS.join(','), '--max-iter', '10', '--split', '0.8', '--seed', String(SEED), '--json'];
  const fastest = (runs) => runs.reduce((a, b) => (b.json.seconds < a.json.seconds ? b : a));
  const nativeCv1Runs = [];
  const nativeCvAllRuns = [];
  for (let k = 0; k < CV_REPEAT; k++) {
    log('native: cv, 1 thread');
    nativeCv1Runs.push(await runNative(cvArgs, { cpus: '0' }));
    log('native: cv, all cores');
    nativeCvAllRuns.push(await runNative(cvArgs));
  }
  const nativeCv1 = fastest(nativeCv1Runs);
  const nativeCvAll = fastest(nativeCvAllRuns);
  log('native: bench (top 10 for all users)');
  const nativeBench = await runNative(['bench', '--data', DATA, '--json']);
  const nativeTopMs = nativeBench.json.top_n.seconds * 1000;

  const server = await startServer(distDir());
  const browser = await launchBrowser();
  const browserCdp = await browser.newBrowserCDPSession();
  try {
    log('page: fit and export, each fit after a native fit on all cores');
    const fit = await fitJob(browser, server, {
      beforeEach: async () => nativeFits.push(await runNative(fitArgs)),
    });
    log('page: fit, 1 worker, each fit after native fits on 1 thread with AVX2 and with 128-bit lanes (AFFINITY_LANES=128)');
    const fit1 = await fitJob(browser, server, {
      workers: 1,
      beforeEach: async () => {
        nativeFits1.push(await runNative(fitArgs, { cpus: '0' }));
        nativeFits128.push(await runNative(fitArgs, { cpus: '0', env: { AFFINITY_LANES: '128' } }));
      },
    });
    log('page: fit, 1 worker, the worker without relaxed SIMD (what Safari runs)');
    const plain = await siteWithoutRelaxedSimd();
    let fit1Plain;
    try {
      fit1Plain = await fitJob(browser, plain.server, { workers: 1 });
    } finally {
      await plain.close();
    }
    const bestFit = (runs) => Math.min(...runs.map((r) => r.json.fit_seconds)) * 1000;
    const [nativeFit, nativeFit1, nativeFit128] = [nativeFits, nativeFits1, nativeFits128].map(bestFit);
    // Each page fit over the native fit run just before it: a drift of the machine's speed
    // over the run moves both sides of a pair alike, so their median says more than one
    // noisy best-of ratio (the target is still judged on the best-of ratio).
    const pairedMedian = (pageMs, natives) => {
      const r = pageMs.map((ms, k) => ms / (natives[k].json.fit_seconds * 1000)).sort((a, b) => a - b);
      const mid = r.length >> 1;
      return (r.length % 2 ? r[mid] : (r[mid - 1] + r[mid]) / 2).toFixed(2);
    };
    log(`native fit u.data rank 40: all cores ${nativeFits.map((r) => (r.json.fit_seconds * 1000).toFixed(0)).join(', ')} ms; 1 thread ${nativeFits1.map((r) => (r.json.fit_seconds * 1000).toFixed(0)).join(', ')} ms; 128-bit lanes ${nativeFits128.map((r) => (r.json.fit_seconds * 1000).toFixed(0)).join(', ')} ms`);
    const cv1Runs = [];
    const cv2Runs = [];
    for (let k = 0; k < CV_REPEAT; k++) {
      log('page: cv, 1 worker');
      cv1Runs.push(await cvJob(browser, server, 1));
      log('page: cv, 2 workers');
      cv2Runs.push(await cvJob(browser, server, 2));
    }
    const quickest = (runs) => runs.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
    const cv1 = quickest(cv1Runs);
    const cv2 = quickest(cv2Runs);

    rows.push([`fit u.data (80%), rank 40, maxIter 10 (best of ${REPEAT})`, sec(fit.fitMs), sec(nativeFit), ratio(fit.fitMs, nativeFit), `≤ 1.5: ${fit.fitMs <= 1.5 * nativeFit ? 'PASS' : 'FAIL'}; median of the ${REPEAT} paired ratios ${pairedMedian(fit.allFitMs, nativeFits)}`]);
    rows.push([`the same fit, 1 worker / 1 thread (best of ${REPEAT})`, sec(fit1.fitMs), sec(nativeFit1), ratio(fit1.fitMs, nativeFit1), `per core; median of the paired ratios ${pairedMedian(fit1.allFitMs, nativeFits1)}`]);
    rows.push([`the same fit, 1 worker / 1 thread of 128-bit lanes, as wasm's (best of ${REPEAT})`, sec(fit1.fitMs), sec(nativeFit128), ratio(fit1.fitMs, nativeFit128), `native 128-bit lanes (unfused) / AVX2 (fused): ${ratio(nativeFit128, nativeFit1)}`]);
    rows.push([`the same fit, 1 worker without relaxed SIMD (Safari's build) / 1 thread of 128-bit lanes (best of ${REPEAT})`, sec(fit1Plain.fitMs), sec(nativeFit128), ratio(fit1Plain.fitMs, nativeFit128), `both unfused; the page with relaxed SIMD / without: ${ratio(fit1.fitMs, fit1Plain.fitMs)}`]);
    rows.push([`3-fold CV, 6 points + final fit, 1 worker / 1 thread (best of ${CV_REPEAT})`, sec(cv1.wallMs), sec(nativeCv1.json.seconds * 1000), ratio(cv1.wallMs, nativeCv1.json.seconds * 1000), `longest page task ${cv1.longestTaskMs} ms`]);
    const cores = os.availableParallelism?.() ?? os.cpus().length;
    rows.push([`3-fold CV, 6 points + final fit, 2 workers / ${cores} threads (best of ${CV_REPEAT})`, sec(cv2.wallMs), sec(nativeCvAll.json.seconds * 1000), ratio(cv2.wallMs, nativeCvAll.json.seconds * 1000), `longest page task ${cv2.longestTaskMs} ms`]);
    rows.push(['CV 2 workers / 1 worker', ratio(cv2.wallMs, cv1.wallMs), ratio(nativeCvAll.json.seconds, nativeCv1.json.seconds), '', `≤ 0.65: ${cv2.wallMs <= 0.65 * cv1.wallMs ? 'PASS' : 'FAIL'}`]);
    rows.push(['top 10 for all users, rank 10 (page: Export CSV)', sec(fit.exportMs), sec(nativeTopMs), ratio(fit.exportMs, nativeTopMs), fit.exportStatus]);

    for (const n of SIZES) {
      const { file, bytes } = await syntheticFile(n);
      log(`native: synth ${n}`);
      // --ranking-users: the page's ranking metrics come from an even sample of 3,000 test users.
      const native = await runNative(['eval', '--ratings', file, '--split', '0.8', '--rank', '20', '--max-iter', '10', '--seed', String(SEED), '--ranking-users', '3000', '--json']).catch((e) => ({ error: e.message }));
      log(`page: synth ${n}`);
      const page = await synthJob(browser, browserCdp, server, n);
      const label = `${(n / 1e6).toFixed(0)}M ratings (${(bytes / 1e6).toFixed(0)} MB CSV)`;
      const total = page.error ? NaN : page.loadMs + page.trainWallMs + page.recommendMs;
      rows.push([`${label}: load`, sec(page.loadMs), '', '', page.error ? `FAILED: ${page.error}` : `longest page task while loading ${page.longestLoadTaskMs ?? 'n/a'} ms`]);
      rows.push([`${label}: train rank 20, maxIter 10 (fit alone)`, `${sec(page.trainWallMs)} (${sec(page.fitMs)})`, native.error ? 'failed' : `(${sec(native.json.fit_seconds * 1000)})`, ratio(page.fitMs, native.json?.fit_seconds * 1000), `longest page task while training ${page.longestTrainTaskMs ?? 'n/a'} ms`]);
      rows.push([`${label}: recommend one user`, sec(page.recommendMs), '', '', `longest page task while recommending ${page.longestRecommendTaskMs ?? 'n/a'} ms`]);
      rows.push([
        `${label}: load + train + recommend (native: eval wall)`,
        sec(total),
        native.error ? `failed: ${native.error}` : sec(native.wall * 1000),
        ratio(total, native.wall * 1000),
        n === 1_000_000 ? `< 20 s: ${total < 20_000 ? 'PASS' : 'FAIL'}` : '',
      ]);
      rows.push([
        `${label}: peak memory`,
        `tab ${mib(page.rendererHwmKiB)}, page JS heap ${mib(page.jsHeapBytes / 1024)}`,
        native.error ? 'n/a' : mib(native.peakKiB),
        '',
        `longest page task ${page.longestTaskMs ?? 'n/a'} ms, the page's start included (its long tasks: ${page.startTasks?.join(', ') || 'none'})`,
      ]);
      if (page.problems) log(`page synth ${n} recorded problems:\n${page.problems}`);
    }
    for (const [name, r] of [['fit', fit], ['fit1', fit1], ['cv1', cv1], ['cv2', cv2]]) if (r.problems) log(`page ${name} recorded problems:\n${r.problems}`);
  } finally {
    await browser.close();
    await server.close();
  }

  const chromium = await chromiumVersion();
  console.log(`Browser benchmark, ${started.toISOString()}; ${cores()} cores (${processor()}), load average at start ${load}; ${chromium}.`);
  console.log('');
  console.log('| job | browser (wasm) | native CLI | browser / native | note |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

function cores() {
  return os.availableParallelism?.() ?? os.cpus().length;
}

// The processor's name, and whether the native CLI's fit can use 256-bit lanes on it (it does
// with AVX2 and FMA): the u.data ratio depends on that, WebAssembly's SIMD being 128 bits.
function processor() {
  const model = os.cpus()[0]?.model?.trim() || 'unknown processor';
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  } catch {
    return model;
  }
  const has = (f) => flags.split(/\s+/).includes(f);
  return `${model}, ${has('avx2') && has('fma') ? 'AVX2 and FMA' : 'not both AVX2 and FMA'}`;
}

async function chromiumVersion() {
  try {
    const b = await launchBrowser();
    const v = b.version();
    await b.close();
    return `Chromium ${v}`;
  } catch {
    return 'Chromium (version unknown)';
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
