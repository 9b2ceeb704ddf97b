// Builds side by side on a visitor's first Train: one headless Chromium, a fresh page (and
// browser context) per build and round, the builds in turns. Each page loads MovieLens 100K's
// u.data, sets the browser benchmark's u.data job (80% training share, rank 40, maxIter 10,
// regParam 0.1, seed 42, no biases, no CV), waits as a visitor would before clicking, then
// trains twice. The first fit of a page runs in whatever code V8 has by then (see
// src/warm_up.rs); the second shows the page's steady speed.
//
//   node bench/first_fit.mjs DIST_A [DIST_B ...]
//
// Environment:
//   ROUNDS   fresh pages per build (default 6)
//   WAIT     milliseconds between the summary showing and the first click (default 4000)
//   DATA     MovieLens 100K directory (default <repo>/../shared/data/ml-100k); when it is
//            missing this prints SKIPPED on stderr and exits 0
//
// For each build it prints the first fits' "Fitted in" times and click-to-scores wall times,
// and the second fits' "Fitted in" times, each with their median.

import path from 'node:path';

import { startServer, launchBrowser } from '../tests/e2e/harness.mjs';
import { udataOrSkip, sel, setUpJob, fittedMs } from './udata_job.mjs';

const ROUNDS = Number(process.env.ROUNDS || 6);
const WAIT = Number(process.env.WAIT || 4000);
const dists = process.argv.slice(2);

if (dists.length === 0) {
  console.error('usage: node bench/first_fit.mjs DIST_A [DIST_B ...]');
  process.exit(2);
}
const UDATA = udataOrSkip();

/** Clicks Train and waits until the scores show and Train is enabled again; returns the
 * page's "Fitted in" and the click-to-scores wall time, in ms. */
async function fit(page) {
  const t0 = Date.now();
  await page.locator(sel('train')).click();
  await page.waitForFunction(
    () => !!document.querySelector('[data-testid="test-rmse"]') && !document.querySelector('[data-testid="train"]').disabled,
    null,
    { timeout: 60_000, polling: 50 },
  );
  const wall = Date.now() - t0;
  return { fitMs: await fittedMs(page), wallMs: wall };
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];

const browser = await launchBrowser();
try {
  const servers = [];
  for (const d of dists) servers.push(await startServer(path.resolve(d)));
  const res = dists.map(() => ({ first: [], wall: [], second: [] }));
  for (let k = 0; k < ROUNDS; k++) {
    for (let b = 0; b < dists.length; b++) {
      const context = await browser.newContext({ serviceWorkers: 'block' });
      const page = await context.newPage();
      await page.goto(servers[b].url('/'));
      await setUpJob(page, UDATA);
      await new Promise((r) => setTimeout(r, WAIT));
      const first = await fit(page);
      await new Promise((r) => setTimeout(r, 500));
      const second = await fit(page);
      res[b].first.push(first.fitMs);
      res[b].wall.push(first.wallMs);
      res[b].second.push(second.fitMs);
      await context.close();
    }
  }
  console.log(`u.data fit, first and second Train in ${ROUNDS} fresh pages per build, in turns; ms`);
  console.log('| build | first fit (median) | first click to scores (median) | second fit (median) |');
  console.log('| --- | --- | --- | --- |');
  for (let b = 0; b < dists.length; b++) {
    const r = res[b];
    console.log(`| ${dists[b]} | ${r.first.join(', ')} (${median(r.first)}) | ${r.wall.join(', ')} (${median(r.wall)}) | ${r.second.join(', ')} (${median(r.second)}) |`);
  }
  for (const s of servers) await s.close();
} finally {
  await browser.close();
}
