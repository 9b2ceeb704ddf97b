// Builds side by side on the u.data fit: one headless Chromium, one page per built site, the
// pages fitting in turns (so a slow minute of the machine falls on every build), each fit the
// browser benchmark's u.data job (80% training share, rank 40, maxIter 10, regParam 0.1,
// seed 42, no biases, no CV). A change to the fit or to the page around it is judged by many
// fits of each build: a single fit of about 0.1 s moves by 10% from one to the next.
//
//   node bench/fit_ab.mjs DIST_A DIST_B [DIST_C ...]
//
// Environment:
//   FITS     fits per build, after two that are not counted (default 40)
//   WORKERS  the page's ?workers= (default: the page's own choice, one per core)
//   DATA     MovieLens 100K directory (default <repo>/../shared/data/ml-100k); when it is
//            missing this prints SKIPPED on stderr and exits 0
//
// For each build it prints the page's "Fitted in" times (best, first quartile, median, mean),
// the click-to-scores wall time (median), and the training workers' run-queue wait per fit
// (time they were ready to run but waited for a core, from Linux's
// /proc/<pid>/task/<tid>/schedstat, summed over the fits of that build; "n/a" elsewhere).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { startServer, launchBrowser } from '../tests/e2e/harness.mjs';
import { udataOrSkip, sel, setUpJob, fittedMs } from './udata_job.mjs';

const FITS = Number(process.env.FITS || 40);
const dists = process.argv.slice(2);

if (dists.length === 0) {
  console.error('usage: node bench/fit_ab.mjs DIST_A [DIST_B ...]');
  process.exit(2);
}
const UDATA = udataOrSkip();

/** Run and run-queue-wait nanoseconds of every thread whose name starts "DedicatedWorker". */
function workerSchedstat() {
  const out = new Map();
  let pids;
  try {
    pids = readdirSync('/proc').filter((x) => /^\d+$/.test(x));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let tids;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chromium')) continue;
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        if (!readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').startsWith('DedicatedWorker')) continue;
        const [, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        out.set(`${pid}/${tid}`, wait);
      } catch {
        // The thread ended in between.
      }
    }
  }
  return out;
}

/** Run-queue wait of all training workers, in ms, between two snapshots. */
function waitedMs(before, after) {
  if (!before || !after) return NaN;
  let ns = 0;
  for (const [k, v] of after) ns += v - (before.get(k) ?? 0);
  return ns / 1e6;
}

async function openPage(browser, dist) {
  const server = await startServer(dist);
  const page = await (await browser.newContext({ serviceWorkers: 'block' })).newPage();
  const query = process.env.WORKERS ? `/?workers=${process.env.WORKERS}` : '/';
  await page.goto(server.url(query));
  await setUpJob(page, UDATA);
  return { dist, server, page, fits: [], walls: [], waited: 0 };
}

/** One fit: click Train, wait (on a MutationObserver, not by polling the page each frame)
 * until the scores are back; returns { fitMs, wallMs }. */
async function fit(page) {
  await page.evaluate(() => {
    const q = (id) => document.querySelector(`[data-testid="${id}"]`);
    const st = { t0: performance.now(), done: null, cleared: !q('test-rmse') };
    const obs = new MutationObserver(() => {
      if (!q('test-rmse')) st.cleared = true;
      else if (st.cleared) {
        st.done = performance.now();
        obs.disconnect();
      }
    });
    obs.observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true });
    window.__fitAb = st;
  });
  await page.locator(sel('train')).click();
  const deadline = Date.now() + 60_000;
  let st;
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    st = await page.evaluate(() => window.__fitAb);
    if (st.done != null) break;
    if (Date.now() > deadline) throw new Error('no scores within 60 s');
  }
  return { fitMs: await fittedMs(page), wallMs: st.done - st.t0 };
}

const sorted = (a) => [...a].sort((x, y) => x - y);
const quantile = (a, q) => sorted(a)[Math.floor((a.length - 1) * q)];
const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;

const browser = await launchBrowser();
try {
  const builds = [];
  for (const d of dists) builds.push(await openPage(browser, path.resolve(d)));
  for (const b of builds) for (let k = 0; k < 2; k++) await fit(b.page);
  for (let k = 0; k < FITS; k++) {
    // Every other round in the reverse order: no build always follows the same one.
    for (const b of k % 2 ? [...builds].reverse() : builds) {
      await new Promise((r) => setTimeout(r, 300));
      const before = workerSchedstat();
      const r = await fit(b.page);
      b.waited += waitedMs(before, workerSchedstat());
      b.fits.push(r.fitMs);
      b.walls.push(r.wallMs);
    }
  }
  console.log(`u.data fit, ${FITS} fits per build in turns; ms`);
  console.log('| build | best | first quartile | median | mean | click to scores, median | workers\' run-queue wait per fit |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const b of builds) {
    const w = b.waited / FITS;
    console.log(`| ${b.dist} | ${Math.min(...b.fits)} | ${quantile(b.fits, 0.25)} | ${quantile(b.fits, 0.5)} | ${mean(b.fits).toFixed(1)} | ${quantile(b.walls, 0.5).toFixed(0)} | ${Number.isNaN(w) ? 'n/a' : w.toFixed(1)} |`);
  }
  for (const b of builds) await b.server.close();
} finally {
  await browser.close();
}
