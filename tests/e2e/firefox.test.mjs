// The built site in headless Firefox: the app works there, and its fits are the CLI's, bit for bit.
//
//   AFFINITY_DIST=dist node --test tests/e2e/firefox.test.mjs
//
// Every other browser test drives Chromium through Playwright, whose Firefox needs a patched
// build that cannot be downloaded here; this one drives Debian's firefox-esr through
// puppeteer-core and WebDriver BiDi. Firefox (146 and later) has relaxed SIMD, so its workers
// load the fused build; whether SpiderMonkey fuses `f32x4.relaxed_madd` is its choice, and
// the parity test below holds it to the native CLI's fused model. The browser is
// $FIREFOX_PATH, else /usr/bin/firefox-esr or /usr/bin/firefox (scripts/setup.sh installs
// firefox-esr); without one the tests fail and say how to install it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { REPO_ROOT, sharedSite, isAllowedUrl, numbersIn, plantedRatings, recordDownloads } from './harness.mjs';
import { JOBS, decodeModel, differences } from './model_parity.mjs';
import { launchFirefox, setChecked, fill } from './puppeteer.mjs';

const WAIT = 120_000;
const sel = (id) => `[data-testid="${id}"]`;

const setup = sharedSite(launchFirefox);

/**
 * A new page that records uncaught errors, console errors and requests to other origins
 * (as far as WebDriver BiDi reports them: the page's and its training workers' requests,
 * not the service worker's).
 */
async function openPage(browser, origin) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.setDefaultTimeout(WAIT);
  const problems = [];
  const requests = [];
  page.on('pageerror', (e) => problems.push(`uncaught: ${e}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('request', (r) => {
    requests.push(r.url());
    if (!isAllowedUrl(r.url(), origin)) problems.push(`request elsewhere: ${r.url()}`);
  });
  return { context, page, problems, requests };
}

/**
 * Runs `body` on a new recorded page (see `openPage`); a failure gets what the page recorded
 * and a full-page screenshot (`target/e2e-screenshots/firefox-<name>-failure.png`).
 */
async function withPage(browser, origin, name, body) {
  const opened = await openPage(browser, origin);
  try {
    await body(opened);
  } catch (err) {
    const shot = path.join(REPO_ROOT, 'target', 'e2e-screenshots', `firefox-${name}-failure.png`);
    mkdirSync(path.dirname(shot), { recursive: true });
    await opened.page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    err.message = `${err.message}\n\nRecorded: ${opened.problems.join('\n') || 'nothing'}\nScreenshot: ${shot}`;
    throw err;
  } finally {
    await opened.context.close().catch(() => {});
  }
}

/** Waits until `probe()` (run in the page with `arg`) is truthy; says what it waited for. */
async function until(page, what, probe, arg) {
  try {
    await page.waitForFunction(probe, { timeout: WAIT, polling: 100 }, arg);
  } catch (e) {
    const error = await page.$eval(sel('error'), (el) => el.innerText).catch(() => null);
    throw new Error(`Firefox: timed out waiting for ${what}${error ? ` (the page says: ${error})` : ''}: ${e.message}`);
  }
}

const text = (page, id) => page.$eval(sel(id), (el) => el.innerText.replace(/\s+/g, ' ').trim()).catch(() => null);

/** The worker builds whose wasm the server sent since log line `from`. */
function workerWasm(server, from) {
  return [...new Set(server.log.slice(from).map((l) => l.match(/^GET \/(worker\w*_bg\.wasm) /)?.[1]).filter(Boolean))];
}

test('Firefox: the demo trains with cross-validation on the worker pool, recommends, and comes back after a reload', { timeout: 600_000 }, async () => {
  const { server, browser } = await setup();
  const from = server.log.length;
  await withPage(browser, server.origin, 'demo', async ({ page, problems, requests }) => {
    await page.goto(server.url('/'), { waitUntil: 'load' });
    await page.waitForSelector(sel('load-demo'));
    // The recorder sees the page's requests (so an empty list of foreign ones means something).
    assert.ok(requests.some((u) => u.endsWith('.wasm')), `the page's requests are recorded: ${requests.join(', ')}`);
    await page.click(sel('load-demo'));
    await until(page, 'the demo catalog in the summary', () => /Ratings/.test(document.querySelector('[data-testid="dataset-summary"]')?.innerText || ''));
    // The form's own grid: every grid point's folds go to the pool's workers.
    await setChecked(page, 'cv-enabled', true);
    await page.click(sel('train'));
    await until(page, 'the test RMSE and the grid', () => {
      const rmse = document.querySelector('[data-testid="test-rmse"]')?.innerText || '';
      return /\d\.\d/.test(rmse) && document.querySelectorAll('[data-testid="cv-row"]').length > 0;
    });
    const rmse = await text(page, 'test-rmse');
    const value = numbersIn(rmse).find(Number.isFinite);
    assert.ok(value > 0.3 && value < 1.2, `a plausible test RMSE on the demo: ${rmse}`);
    const rows = await page.$$eval(sel('cv-row'), (rs) => rs.map((r) => r.innerText.replace(/\s+/g, ' ')));
    const plan = await text(page, 'cv-plan');
    assert.ok(rows.length >= 2, `the grid table lists its points: ${rows.join(' | ')} (plan: ${plan})`);
    assert.equal(rows.filter((r) => /chosen/.test(r)).length, 1, `one chosen grid point: ${rows.join(' | ')}`);
    assert.deepEqual(workerWasm(server, from), ['worker_relaxed_bg.wasm'], 'Firefox loads the build with relaxed SIMD');
    // The recorder also sees what the workers fetch: 'no request elsewhere' covers them too.
    assert.ok(requests.some((u) => u.endsWith('/worker_relaxed_bg.wasm')), `the workers' requests are recorded: ${requests.join(', ')}`);

    await page.type(sel('user-id'), '1');
    await page.click(sel('recommend'));
    await until(page, '10 recommendations for user 1', () => document.querySelectorAll('[data-testid="rec-row"]').length === 10);
    const recs = await page.$$eval(sel('rec-row'), (rs) => rs.map((r) => r.innerText.replace(/\s+/g, ' ')));
    assert.equal(new Set(recs).size, 10, `ten different rows: ${recs.join(' | ')}`);

    // The model is saved in IndexedDB; after a reload it is back with its scores.
    await until(page, 'the model in the library', () => document.querySelectorAll('[data-testid="library-row"][data-kind="model"]').length > 0);
    await page.reload({ waitUntil: 'load' });
    await until(page, 'the stored model after the reload', (before) => (document.querySelector('[data-testid="test-rmse"]')?.innerText || '').replace(/\s+/g, ' ').trim() === before, rmse);
    await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(problems, [], 'no errors and no request to another host');
  });
});

test('Firefox: the page fits the same factors as the native CLI, bit for bit', { timeout: 600_000 }, async (t) => {
  const { server, browser } = await setup();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'affinity-firefox-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = plantedRatings({ seed: 4242, nUsers: 500, nItems: 300, nRatings: 12_000, rank: 4 });
  const ratingsFile = path.join(dir, 'ratings.csv');
  writeFileSync(ratingsFile, data.csv);
  const bin = process.env.AFFINITY_BIN
    ? path.resolve(process.env.AFFINITY_BIN)
    : (execFileSync('cargo', ['build', '--release', '-q', '-p', 'affinity-cli'], { cwd: REPO_ROOT, stdio: 'inherit' }),
      path.join(process.env.CARGO_TARGET_DIR ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : path.join(REPO_ROOT, 'target'), 'release', 'affinity'));

  const from = server.log.length;
  await withPage(browser, server.origin, 'parity', async ({ page, problems }) => {
    await page.evaluateOnNewDocument(recordDownloads);
    await page.goto(server.url('/'), { waitUntil: 'load' });
    const input = await page.waitForSelector(sel('ratings-file'));
    await input.uploadFile(ratingsFile);
    await until(page, `${data.nRatings} ratings in the summary`, (n) => (document.querySelector('[data-testid="dataset-summary"]')?.innerText || '').replace(/,/g, '').includes(String(n)), data.nRatings);
    for (const [k, job] of JOBS.entries()) {
      const f = job.form;
      await setChecked(page, 'cv-enabled', false);
      await setChecked(page, 'param-implicit', Boolean(f.implicit));
      if (f.implicit) await fill(page, 'param-alpha', f.alpha);
      await setChecked(page, 'param-biases', Boolean(f.biases));
      await setChecked(page, 'param-nonnegative', Boolean(f.nonnegative));
      await setChecked(page, 'param-cg', Boolean(f.cg));
      await fill(page, 'param-rank', f.rank);
      await fill(page, 'param-max-iter', f.iters);
      await fill(page, 'param-reg-param', f.reg);
      await fill(page, 'param-split', f.split);
      await fill(page, 'param-seed', f.seed);
      await page.click(sel('train'));
      await until(page, `the fit of ${job.name}`, (rank) => {
        const hint = document.querySelector('.score .hint')?.innerText || '';
        const status = document.querySelector('[data-testid="train-status"]')?.innerText || '';
        return hint.includes(`rank ${rank} `) && /Fitted in/.test(hint) && !/Fit \d+ of/.test(status);
      }, f.rank);
      await page.click(sel('export-model'));
      await until(page, `download #${k + 1}`, (n) => window.__e2eDownloads.length > n, k);
      const got = await page.evaluate(async (i) => {
        const d = window.__e2eDownloads[i];
        const blob = window.__e2eBlobs.get(d.href);
        return { name: d.name, bytes: blob ? [...new Uint8Array(await blob.arrayBuffer())] : null };
      }, k);
      assert.equal(got.name, 'affinity-model.affm');
      assert.ok(got.bytes, 'the exported model blob was recorded');
      const webBytes = Buffer.from(got.bytes);
      const nativeFile = path.join(dir, `native-${k}.affm`);
      execFileSync(bin, ['fit', '--ratings', ratingsFile, ...job.flags, '--out', nativeFile, '--json'], { encoding: 'utf8' });
      const web = decodeModel(webBytes);
      const diff = differences(web, decodeModel(readFileSync(nativeFile)));
      const nFitted = [...web.users.values()].filter((r) => r.fitted).length;
      t.diagnostic(`${job.name}: ${web.users.size} users (${nFitted} fitted), ${web.items.size} items; ${diff.count} differences`);
      assert.ok(nFitted > 100, `${job.name}: the page fitted real factors`);
      assert.equal(web.rank, Number(f.rank), `${job.name}: the page fitted the typed rank`);
      assert.equal(diff.count, 0, `${job.name}: Firefox vs native differ in ${diff.count} values:\n  ${diff.listed.join('\n  ')}`);
      assert.ok(webBytes.equals(readFileSync(nativeFile)), `${job.name}: the two model files differ byte for byte`);
    }
    assert.deepEqual(workerWasm(server, from), ['worker_relaxed_bg.wasm'], 'the workers that fitted were the fused build');
    assert.deepEqual(problems, [], 'no errors and no request to another host');
  });
});
