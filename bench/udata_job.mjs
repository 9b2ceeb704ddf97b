// The browser benchmark's u.data job as bench/fit_ab.mjs and bench/first_fit.mjs set it up in
// a page: MovieLens 100K's u.data, 80% training share, rank 40, maxIter 10, regParam 0.1,
// seed 42, no biases, no CV.

import { existsSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from '../tests/e2e/harness.mjs';

const DATA = path.resolve(process.env.DATA || path.join(REPO_ROOT, '..', 'shared', 'data', 'ml-100k'));

/** u.data's path; when it is missing, prints SKIPPED on stderr and exits 0. */
export function udataOrSkip() {
  const udata = path.join(DATA, 'u.data');
  if (!existsSync(udata)) {
    console.error(`SKIPPED: ${udata} is missing (MovieLens 100K is used for benchmarks only)`);
    process.exit(0);
  }
  return udata;
}

export const sel = (id) => `[data-testid="${id}"]`;

/** Loads `udata` into `page` (already showing the app) and sets the job's parameters. */
export async function setUpJob(page, udata) {
  await page.waitForSelector(sel('ratings-file'), { state: 'attached', timeout: 60_000 });
  await page.locator(sel('ratings-file')).setInputFiles(udata);
  await page.waitForFunction(() => /100,000/.test(document.querySelector('[data-testid="dataset-summary"]')?.innerText || ''), null, { timeout: 60_000 });
  const fields = { 'param-rank': '40', 'param-max-iter': '10', 'param-reg-param': '0.1', 'param-split': '80', 'param-seed': '42' };
  for (const [id, v] of Object.entries(fields)) await page.locator(sel(id)).fill(v);
  await page.locator(sel('param-biases')).setChecked(false);
  await page.locator(sel('cv-enabled')).setChecked(false);
}

/** The "Fitted in" time in the scores' hint `hint`, in ms; NaN when it has none. */
export function fittedMsIn(hint) {
  const m = hint.match(/Fitted in ([\d.]+) (ms|s)\b/);
  return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
}

/** The page's "Fitted in" time of its last fit, in ms. */
export async function fittedMs(page) {
  const hint = await page.locator('.score .hint').first().innerText();
  const ms = fittedMsIn(hint);
  if (Number.isNaN(ms)) throw new Error(`no "Fitted in" in ${JSON.stringify(hint)}`);
  return ms;
}
