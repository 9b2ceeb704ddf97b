// Chromium and Firefox side by side: the u.data fit of the benchmark (rank 40,
// maxIter 10, 80/20 split, seed 42) through the page in each browser, with 1 and 2 workers,
// each page fit right after the native CLI's same fit, in one run.
//
//   bench/browsers.sh                      # builds the site and the CLI, then runs this
//   AFFINITY_DIST=/tmp/dist AFFINITY_BIN=target/release/affinity node bench/browsers.mjs
//
// Both browsers are driven by puppeteer-core (Chromium over CDP, Firefox over WebDriver BiDi),
// so the two pages are timed the same way: the page's own "Fitted in" time, as in
// bench/browser.mjs, against `affinity eval --split 0.8`'s fit_seconds (1 thread pinned with
// taskset for the 1-worker rows, all cores for the 2-worker rows). Prints a markdown table
// on stdout. Env: DATA (MovieLens 100K directory; without it, SKIPPED and exit 0),
// BENCH_REPEAT (fits per row, default 5), CHROMIUM_PATH, FIREFOX_PATH.
//
// BENCH_SIZES (e.g. 10000000; default none) adds, per size, a synthetic file of that many
// ratings (`affinity gen`, cached where bench/browser.mjs keeps them: BENCH_WORK, default
// <tmp>/affinity-bench) loaded, trained (rank 20, maxIter 10, biases on, all workers) and recommended
// from in a fresh instance of each browser, with the largest peak resident memory (VmHWM) of
// any of the browser's processes: the process of the page and its workers.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

import { REPO_ROOT, CHROMIUM_PATH, CHROMIUM_ARGS, distDir, startServer } from '../tests/e2e/harness.mjs';
import { FIREFOX_PATH, launchFirefox, setChecked, fill } from '../tests/e2e/puppeteer.mjs';

const DATA = path.resolve(process.env.DATA || path.join(REPO_ROOT, '..', 'shared', 'data', 'ml-100k'));
const UDATA = path.join(DATA, 'u.data');
const BIN = path.resolve(process.env.AFFINITY_BIN || path.join(REPO_ROOT, 'target', 'release', 'affinity'));
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT || 5));
const BIG_FORM = [['param-rank', '20'], ['param-max-iter', '10'], ['param-reg-param', '0.1'], ['param-split', '80'], ['param-seed', '42']];
const FORM = [['param-rank', '40'], ['param-max-iter', '10'], ['param-reg-param', '0.1'], ['param-split', '80'], ['param-seed', '42']];
const NATIVE_ARGS = ['eval', '--ratings', UDATA, '--split', '0.8', '--rank', '40', '--max-iter', '10', '--reg-param', '0.1', '--seed', '42', '--json'];
const SIZES = (process.env.BENCH_SIZES ?? '').split(',').map((x) => x.trim()).filter(Boolean).map(Number);
const WORK = path.resolve(process.env.BENCH_WORK || path.join(os.tmpdir(), 'affinity-bench'));
const sel = (id) => `[data-testid="${id}"]`;
const log = (...a) => console.error('[browsers]', ...a);

if (!existsSync(UDATA)) {
  console.error(`SKIPPED: MovieLens 100K not found at ${DATA} (set DATA to its directory).`);
  process.exit(0);
}
for (const [what, p] of [['Chromium', CHROMIUM_PATH], ['Firefox', FIREFOX_PATH], ['the CLI', BIN]]) {
  if (!p || !existsSync(p)) throw new Error(`${what} not found (${p ?? 'set FIREFOX_PATH'}); scripts/setup.sh installs the browsers, cargo build --release -p affinity-cli the CLI.`);
}

/** The native fit's milliseconds: one thread pinned to core 0, or every core. */
function nativeFitMs(threads) {
  const out = threads === 1 ? execFileSync('taskset', ['-c', '0', BIN, ...NATIVE_ARGS], { encoding: 'utf8' }) : execFileSync(BIN, NATIVE_ARGS, { encoding: 'utf8' });
  return JSON.parse(out).fit_seconds * 1000;
}

/** Loads `file` (`n` ratings) through the page's file input; resolves to the milliseconds until its summary shows. */
async function loadFile(page, file, n) {
  const input = await page.waitForSelector(sel('ratings-file'));
  const t = Date.now();
  await input.uploadFile(file);
  await page.waitForFunction(
    (n) => new RegExp(`Ratings\\s*${n}\\b`).test((document.querySelector('[data-testid="dataset-summary"]')?.innerText || '').replace(/,/g, '')),
    { polling: 100 },
    n,
  );
  return Date.now() - t;
}

/** Types `form` ([test id, value] pairs), cross-validation off, biases as `biases` says. */
async function fillForm(page, form, biases) {
  await setChecked(page, 'cv-enabled', false);
  await setChecked(page, 'param-biases', biases);
  for (const [id, value] of form) await fill(page, id, value);
}

/** A page of `browser` with `workers` workers, u.data loaded and the form filled in. */
async function openFitPage(browser, origin, workers) {
  const page = await browser.newPage();
  page.setDefaultTimeout(120_000);
  await page.goto(`${origin}/?workers=${workers}`, { waitUntil: 'load' });
  await loadFile(page, UDATA, 100_000);
  await fillForm(page, FORM, false);
  return page;
}

/**
 * One fit through the page: its "Fitted in" milliseconds. A run clears the scores
 * (test-rmse) when it starts and shows them when it ends; a MutationObserver sees both, even
 * when the new hint reads the same as the last.
 */
async function pageFitMs(page) {
  await page.evaluate(() => {
    const rmse = () => document.querySelector('[data-testid="test-rmse"]');
    const state = { cleared: !rmse(), done: false };
    const obs = new MutationObserver(() => {
      if (!rmse()) state.cleared = true;
      else if (state.cleared) {
        state.done = true;
        obs.disconnect();
      }
    });
    obs.observe(document.body, { childList: true, subtree: true, characterData: true });
    window.__fitState = state;
  });
  await page.click(sel('train'));
  await page.waitForFunction(() => window.__fitState.done, { polling: 20 });
  const hint = await page.$eval('.score .hint', (e) => e.innerText);
  if (!/rank 40 /.test(hint)) throw new Error(`the page fitted another job: ${hint}`);
  const m = hint.match(/Fitted in ([\d.]+) (ms|s)\b/);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** `affinity gen` of `n` ratings, named and shaped as bench/browser.mjs makes them (cached). */
function syntheticFile(n) {
  mkdirSync(WORK, { recursive: true });
  const users = Math.max(943, Math.floor(n / 106));
  const items = Math.max(1682, Math.floor(n / 60));
  const file = path.join(WORK, `synth-${n}-u${users}-i${items}-s42.csv`);
  if (!existsSync(file)) {
    log(`affinity gen ${n} ratings -> ${file}`);
    execFileSync(BIN, ['gen', '--users', users, '--items', items, '--ratings', n, '--seed', 42, '--out', file].map(String));
  }
  return file;
}

/** The largest VmHWM (MiB) of `rootPid` and its descendants. */
function peakProcessMiB(rootPid) {
  const parent = new Map();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      // The parent pid is the 4th field of /proc/<pid>/stat, after the (parenthesised) name.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(Number(pid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended meanwhile
    }
  }
  const inTree = (pid) => {
    for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === rootPid) return true;
    return false;
  };
  let peak = 0;
  for (const pid of parent.keys()) {
    if (!inTree(pid)) continue;
    try {
      const kib = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m)?.[1] ?? 0);
      peak = Math.max(peak, kib / 1024);
    } catch {
      // the process ended meanwhile
    }
  }
  return peak;
}

/** Load, train and recommend on `file` (n ratings) in a fresh `launch()`ed browser. */
async function bigJob(launch, file, n) {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(30 * 60_000);
    await page.goto(`${server.origin}/`, { waitUntil: 'load' });
    // The app's own start is not part of loading the file.
    await page.waitForSelector(sel('ratings-file'));
    // A 10 ms heartbeat on the page's thread: its longest gap is the longest the page was
    // unresponsive (the long-task API bench/browser.mjs uses is Chromium's alone).
    await page.evaluate(() => {
      const beat = { last: performance.now(), longest: 0 };
      setInterval(() => {
        const now = performance.now();
        beat.longest = Math.max(beat.longest, now - beat.last);
        beat.last = now;
      }, 10);
      window.__beat = beat;
    });
    const longestGap = () =>
      page.evaluate(() => {
        const longest = window.__beat.longest;
        window.__beat.longest = 0;
        return Math.round(longest);
      });
    const loadMs = await loadFile(page, file, n);
    const loadGapMs = await longestGap();
    // Biases on, the page's default (bench/browser.mjs's synthetic rows have them off).
    await fillForm(page, BIG_FORM, true);
    let t = Date.now();
    await page.click(sel('train'));
    await page.waitForFunction(() => /Fitted in/.test(document.querySelector('.score .hint')?.innerText || ''), { polling: 100 });
    const trainMs = Date.now() - t;
    const hint = await page.$eval('.score .hint', (e) => e.innerText);
    const m = hint.match(/Fitted in ([\d.]+) (ms|s)\b/);
    const fitMs = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
    const rmse = await page.$eval(sel('test-rmse'), (e) => e.innerText.replace(/\s+/g, ' '));
    // Saving the model is part of training: wait for the library to list it.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="library-row"][data-kind="model"]').length > 0, { polling: 100 });
    const trainGapMs = await longestGap();
    t = Date.now();
    await page.type(sel('user-id'), '1');
    await page.click(sel('recommend'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="rec-row"]').length === 10, { polling: 20 });
    const recommendMs = Date.now() - t;
    const recommendGapMs = await longestGap();
    return { loadMs, trainMs, fitMs, recommendMs, rmse, loadGapMs, trainGapMs, recommendGapMs, peakMiB: peakProcessMiB(browser.process().pid) };
  } finally {
    await browser.close().catch(() => {});
  }
}

const launchers = {
  Chromium: () => puppeteer.launch({ browser: 'chrome', executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, protocolTimeout: 30 * 60_000 }),
  Firefox: () => launchFirefox({ protocolTimeout: 30 * 60_000 }),
};
const server = await startServer(distDir());
const browsers = {};
for (const [name, launch] of Object.entries(launchers)) browsers[name] = await launch();
const versions = {};
for (const [name, b] of Object.entries(browsers)) versions[name] = await b.version();
const rows = [];
try {
  for (const workers of [1, 2]) {
    const pages = {};
    for (const [name, b] of Object.entries(browsers)) pages[name] = await openFitPage(b, server.origin, workers);
    const runs = Object.fromEntries(Object.keys(pages).map((n) => [n, { page: [], native: [] }]));
    // One warm-up fit per page (compiles the worker's optimised code), not counted.
    for (const page of Object.values(pages)) await pageFitMs(page);
    for (let i = 0; i < REPEAT; i++) {
      // The browsers take turns, so a noisy minute does not fall on one side only.
      for (const [name, page] of Object.entries(pages)) {
        runs[name].native.push(nativeFitMs(workers));
        runs[name].page.push(await pageFitMs(page));
      }
    }
    for (const [name, r] of Object.entries(runs)) {
      const paired = r.page.map((p, i) => p / r.native[i]);
      rows.push({ name, workers, ...r, best: Math.min(...r.page), nativeBest: Math.min(...r.native), pairedMedian: median(paired) });
      log(`${name}, ${workers} worker(s): page ${r.page.map(Math.round).join(', ')} ms; native ${r.native.map(Math.round).join(', ')} ms`);
    }
    for (const page of Object.values(pages)) await page.close();
  }
} finally {
  for (const b of Object.values(browsers)) await b.close().catch(() => {});
}
const bigRows = [];
try {
  for (const n of SIZES) {
    const file = syntheticFile(n);
    for (const [name, launch] of Object.entries(launchers)) {
      log(`${name}: ${n} ratings`);
      bigRows.push({ name, n, ...(await bigJob(launch, file, n)) });
    }
  }
} finally {
  await server.close();
}

const load = os.loadavg()[0].toFixed(2);
console.log(`u.data fit (rank 40, maxIter 10, 80/20, seed 42) in two browsers, ${new Date().toISOString()}; ${os.cpus().length} cores, load average ${load} at the end; ${versions.Chromium}, ${versions.Firefox}. Best of ${REPEAT} (median).`);
console.log('');
console.log('| browser | workers (native threads) | page | native CLI | best-of ratio | median of paired ratios |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const ms = (xs, best) => `${Math.round(best)} ms (${Math.round(median(xs))})`;
  console.log(`| ${r.name} | ${r.workers} | ${ms(r.page, r.best)} | ${ms(r.native, r.nativeBest)} | ${(r.best / r.nativeBest).toFixed(2)} | ${r.pairedMedian.toFixed(2)} |`);
}
if (bigRows.length) {
  console.log('');
  console.log('| browser | ratings | load | train (fit alone) | 10 recommendations | test RMSE | peak of one browser process | longest heartbeat gap: load, train, recommend |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const sec = (ms) => `${(ms / 1000).toFixed(1)} s`;
  for (const r of bigRows) {
    console.log(`| ${r.name} | ${r.n.toLocaleString('en-US')} | ${sec(r.loadMs)} | ${sec(r.trainMs)} (${sec(r.fitMs)}) | ${r.recommendMs} ms | ${r.rmse.replace(/^Test RMSE\s*/, '')} | ${Math.round(r.peakMiB).toLocaleString('en-US')} MiB | ${r.loadGapMs}, ${r.trainGapMs}, ${r.recommendGapMs} ms |`);
  }
}
