// End-to-end tests of the built Affinity site in headless Chromium.
//
//   AFFINITY_DIST=dist node --test tests/e2e/
//
// The site (env AFFINITY_DIST, default <repo>/dist) is served by a small static server on
// 127.0.0.1; every test gets a fresh browser context and fails on any page error, console
// error, failed request, 4xx/5xx asset or request leaving the local server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  REPO_ROOT,
  openRecordedPage,
  pageText,
  waitUntil,
  testIdText,
  numbersIn,
  plantedRatings,
  sharedSite,
} from './harness.mjs';

const WAIT = 120_000; // any single wait: training runs in wasm in a web worker
const TEST_TIMEOUT = 420_000;
const SCREENSHOTS = path.join(REPO_ROOT, 'target', 'e2e-screenshots');
const TOP_N = 10;

const sel = (id) => `[data-testid="${id}"]`;

// One server and one browser for the file, started by the first test that needs them. A
// missing build makes every test fail with the reason (never a silent skip).
const setup = sharedSite();

/**
 * Runs `body` with a fresh context and page open on the site. Adds diagnostics (the page's
 * text, the error banner, everything recorded, a screenshot) to any failure, and fails the
 * test when the page misbehaved (see openRecordedPage) even though `body` passed.
 */
async function withApp(t, name, body) {
  const { server, browser } = await setup();
  rmSync(path.join(SCREENSHOTS, `${name}-failure.png`), { force: true });
  const rec = await openRecordedPage(browser, server.origin, { viewport: { width: 1280, height: 800 } });
  const { page, context } = rec;
  context.setDefaultTimeout(WAIT);
  const failFast = () => (rec.problems.pageErrors.length ? `uncaught error in the page: ${rec.problems.pageErrors[0]}` : null);
  const wait = (what, probe, opts = {}) => waitUntil(what, probe, { timeout: WAIT, failFast, ...opts });
  const app = { page, rec, server, wait, t };
  try {
    await page.goto(server.url('/'), { waitUntil: 'load' });
    // The page is rendered by wasm: wait until it has mounted.
    await wait('the app to mount (an element [data-testid="ratings-file"])', async () => (await page.locator(sel('ratings-file')).count()) > 0);
    await body(app);
    // Let late console messages and requests arrive, then require a clean record.
    await page.waitForTimeout(250);
    rec.assertClean();
  } catch (err) {
    const diag = await diagnostics(app, name, { withProblems: !err?.recordedProblems });
    err.message = `${err.message}\n\n${diag}`;
    throw err;
  } finally {
    if (!page.isClosed()) await context.close().catch(() => {});
  }
}

async function diagnostics({ page, rec, server }, name, { withProblems = true } = {}) {
  const parts = [];
  if (withProblems) {
    const problems = rec.problemReport();
    parts.push(problems ? `Recorded problems:\n${problems}` : 'Recorded problems: none');
  }
  if (!page.isClosed()) {
    let errorText = null;
    try {
      errorText = await testIdText(page, 'error');
    } catch {
      // the page may be gone
    }
    parts.push(`[data-testid=error] text: ${JSON.stringify(errorText)}`);
    const text = await pageText(page);
    parts.push(`Page text (${page.url()}):\n${text.length > 6000 ? text.slice(0, 6000) + '\n…(cut)' : text}`);
    try {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const shot = path.join(SCREENSHOTS, `${name}-failure.png`);
      await page.screenshot({ path: shot, fullPage: true, timeout: 10_000 });
      parts.push(`Screenshot: ${shot}`);
    } catch (e) {
      parts.push(`(no screenshot: ${e.message})`);
    }
  }
  parts.push(`Workers started: ${rec.workers.length ? rec.workers.join(', ') : 'none'}`);
  parts.push(`Last requests to the test server:\n  ${server.log.slice(-25).join('\n  ')}`);
  return parts.join('\n');
}

async function screenshot(page, file) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, file), fullPage: true });
}

/** A count next to its label in the summary ("Ratings 12,345" or "12,345 ratings"), or null. */
function labelledCount(text, label) {
  const flat = text.replace(/\s+/g, ' ');
  const before = flat.match(new RegExp(`${label}\\s*:?\\s*(\\d[\\d,]*)`, 'i'));
  if (before) return Number(before[1].replace(/,/g, ''));
  const afterLabel = flat.match(new RegExp(`(\\d[\\d,]*)\\s*${label}`, 'i'));
  if (afterLabel) return Number(afterLabel[1].replace(/,/g, ''));
  return null;
}

/** Waits for the summary to show numbers satisfying `ok(numbers, text)`. */
async function waitForSummary({ page, wait }, what, ok) {
  return wait(`[data-testid=dataset-summary] to show ${what}`, async () => {
    const text = await testIdText(page, 'dataset-summary');
    if (text == null) return { done: false, seen: '(no dataset-summary element)' };
    const nums = numbersIn(text);
    return { done: ok(nums, text), value: text, seen: JSON.stringify(text) };
  });
}

/** Clicks Train, checks the progress bar, waits for the test RMSE; returns it. */
async function trainAndWait({ page, wait, t }) {
  // While the worker trains, the page's main thread must stay free: a timer in the page
  // records the longest gap between its ticks, from just before the click to the score.
  await page.evaluate(() => {
    clearInterval(window.__e2eHeartbeat?.timer);
    const beat = { last: performance.now(), worst: 0 };
    beat.timer = setInterval(() => {
      const now = performance.now();
      beat.worst = Math.max(beat.worst, now - beat.last);
      beat.last = now;
    }, 50);
    window.__e2eHeartbeat = beat;
  });
  await page.locator(sel('train')).click();
  const progress = page.locator(sel('progress'));
  assert.ok((await progress.count()) >= 1, 'no [data-testid=progress] element after clicking Train');
  assert.equal(await progress.first().evaluate((el) => el.tagName.toLowerCase()), 'progress', '[data-testid=progress] is not a <progress>');
  const text = await wait('[data-testid=test-rmse] to show a number', async () => {
    const errorText = await testIdText(page, 'error');
    const rmseText = await testIdText(page, 'test-rmse');
    const nums = rmseText == null ? [] : numbersIn(rmseText).filter(Number.isFinite);
    return {
      done: nums.length > 0,
      value: rmseText,
      seen: `test-rmse ${JSON.stringify(rmseText)}, error ${JSON.stringify(errorText)}`,
    };
  });
  const worstGap = await page.evaluate(() => {
    const beat = window.__e2eHeartbeat;
    clearInterval(beat.timer);
    return Math.round(Math.max(beat.worst, performance.now() - beat.last));
  });
  const rmse = numbersIn(text).find(Number.isFinite);
  t.diagnostic(`test RMSE ${rmse}; longest main-thread stall while training ${worstGap} ms`);
  assert.ok(worstGap < 3000, `the page's main thread stalled for ${worstGap} ms while training (training must run in the worker)`);
  return rmse;
}

/** The recommendation rows as [{ title, scoreText, score }], in page order. */
async function readRows(page) {
  return page.$$eval('[data-testid="rec-row"]', (rows) =>
    rows.map((row) => {
      const title = row.querySelector('[data-testid="rec-title"]');
      const score = row.querySelector('[data-testid="rec-score"]');
      return {
        title: title ? title.innerText.trim() : null,
        scoreText: score ? score.innerText.trim() : null,
      };
    }),
  ).then((rows) => rows.map((r) => ({ ...r, score: r.scoreText == null ? NaN : (numbersIn(r.scoreText)[0] ?? NaN) })));
}

/** Waits for exactly `n` rows; `differentFrom` (a previous list) must differ when given. */
async function waitForRows({ page, wait }, what, { n = TOP_N, differentFrom } = {}) {
  const signature = (rows) => rows.map((r) => `${r.title}=${r.scoreText}`).join(' | ');
  return wait(what, async () => {
    const rows = await readRows(page);
    const errorText = await testIdText(page, 'error');
    const done = rows.length === n && (!differentFrom || signature(rows) !== signature(differentFrom));
    return { done, value: rows, seen: `${rows.length} rows [${signature(rows)}], error ${JSON.stringify(errorText)}` };
  });
}

/** Scores are finite and non-increasing down the list; titles are non-empty and distinct. */
function checkRanking(rows, who) {
  const shown = JSON.stringify(rows);
  for (const [k, r] of rows.entries()) {
    assert.ok(r.title, `row ${k + 1} for ${who} has no rec-title: ${shown}`);
    assert.ok(Number.isFinite(r.score), `row ${k + 1} for ${who} has no finite rec-score (${JSON.stringify(r.scoreText)}): ${shown}`);
    if (k > 0) assert.ok(r.score <= rows[k - 1].score + 1e-9, `scores for ${who} increase at row ${k + 1}: ${shown}`);
  }
  assert.equal(new Set(rows.map((r) => r.title)).size, rows.length, `duplicate titles for ${who}: ${shown}`);
}

function checkUploadedRows(rows, user, data) {
  checkRanking(rows, user);
  const rated = data.ratedBy.get(user);
  for (const r of rows) {
    assert.ok(data.items.has(r.title), `recommended ${JSON.stringify(r.title)} for ${user} is not an item id of the file`);
    assert.ok(!rated.has(r.title), `recommended ${r.title} to ${user}, who already rated it`);
  }
}

test('upload, train, recommend', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'upload-trained', async (app) => {
    const { page } = app;
    const data = plantedRatings({ seed: 20260517, nUsers: 400, nItems: 300, nRatings: 15_000, rank: 3 });
    t.diagnostic(`generated ${data.nRatings} ratings by ${data.users.size} users of ${data.items.size} items`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'affinity-e2e-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'planted.csv');
    writeFileSync(file, data.csv);

    await page.locator(sel('ratings-file')).setInputFiles(file);
    const expected = [data.nRatings, data.users.size, data.items.size];
    await waitForSummary(app, `${expected.join(' / ')} ratings / users / items`, (nums) =>
      expected.every((n) => nums.includes(n)),
    );

    await page.locator(sel('param-rank')).fill('8');
    await page.locator(sel('param-max-iter')).fill('10');
    await page.locator(sel('param-reg-param')).fill('0.1');
    const rmse = await trainAndWait(app);
    assert.ok(rmse > 0.3 && rmse < 1.3, `test RMSE ${rmse} is implausible for this data (expected 0.3 < rmse < 1.3)`);

    // A user with plenty of ratings, through Enter in the user id field.
    const users = [...data.ratedBy.keys()].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
    const first = users.find((u) => data.ratedBy.get(u).size >= 30) ?? users[0];
    await page.locator(sel('user-id')).fill(first);
    await page.locator(sel('user-id')).press('Enter');
    const firstRows = await waitForRows(app, `${TOP_N} rec-row for ${first}`);
    checkUploadedRows(firstRows, first, data);

    // Another user, through the button: one who rated some of the first user's top items, so
    // the list has to change.
    const recommended = new Set(firstRows.map((r) => r.title));
    const second = users.find((u) => u !== first && [...data.ratedBy.get(u)].some((i) => recommended.has(i)));
    assert.ok(second, 'no second user found (test data problem)');
    await page.locator(sel('user-id')).fill(second);
    await page.locator(sel('recommend')).click();
    const secondRows = await waitForRows(app, `the list to change to ${TOP_N} rec-row for ${second}`, { differentFrom: firstRows });
    checkUploadedRows(secondRows, second, data);

    const errorText = await testIdText(page, 'error');
    assert.ok(!errorText, `the error element shows ${JSON.stringify(errorText)} after a successful run`);
    await screenshot(page, 'upload-trained.png');
  });
});

test('demo catalog', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'demo', async (app) => {
    const { page } = app;
    await page.locator(sel('load-demo')).click();
    const summary = await waitForSummary(app, 'more than 1000 ratings', (nums, text) => {
      const ratings = labelledCount(text, 'ratings') ?? Math.max(-Infinity, ...nums);
      return ratings > 1000;
    });
    t.diagnostic(`demo summary: ${summary.replace(/\s+/g, ' ')}`);

    const rmse = await trainAndWait(app);
    assert.ok(rmse > 0 && rmse < 2, `test RMSE ${rmse} on the demo catalog is implausible (expected 0 < rmse < 2)`);

    await page.locator(sel('user-id')).fill('1');
    await page.locator(sel('recommend')).click();
    const rows = await waitForRows(app, `${TOP_N} rec-row for demo user 1`);
    checkRanking(rows, 'demo user 1');
    for (const r of rows) {
      assert.ok(!/^\s*\d+\s*$/.test(r.title), `demo recommendation shows a bare id ${JSON.stringify(r.title)} instead of a title`);
    }
    t.diagnostic(`demo user 1: ${rows.map((r) => `${r.title} (${r.scoreText})`).join('; ')}`);
    await screenshot(page, 'demo.png');
  });
});

test('bad file shows an error', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'bad-file', async (app) => {
    const { page, wait } = app;
    await page.locator(sel('ratings-file')).setInputFiles({
      name: 'bad.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('user,item,rating\n1,2,5\n1,3,abc\n'),
    });
    const message = await wait('[data-testid=error] to mention "line 3" and "abc"', async () => {
      const text = await testIdText(page, 'error');
      return { done: !!text && text.includes('line 3') && text.includes('abc'), value: text, seen: JSON.stringify(text) };
    });
    t.diagnostic(`error shown: ${message}`);
  });
});

test('stray user id', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'stray-user', async (app) => {
    const { page, wait } = app;
    await page.locator(sel('load-demo')).click();
    await waitForSummary(app, 'numbers', (nums) => nums.length > 0);
    await trainAndWait(app);
    await page.locator(sel('user-id')).fill('no-such-user');
    await page.locator(sel('user-id')).press('Enter');
    const message = await wait('[data-testid=error] to mention "no-such-user"', async () => {
      const text = await testIdText(page, 'error');
      return { done: !!text && text.includes('no-such-user'), value: text, seen: JSON.stringify(text) };
    });
    t.diagnostic(`error shown: ${message}`);
  });
});

test('a strict Content-Security-Policy is declared and the app runs under it', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'csp', async (app) => {
    const { page } = app;
    const policies = await page.$$eval('meta[http-equiv="Content-Security-Policy"]', (ms) => ms.map((m) => m.content));
    assert.equal(policies.length, 1, `expected one CSP meta tag, found ${policies.length}`);
    const policy = policies[0];
    t.diagnostic(`policy: ${policy}`);
    const directive = (name) => (policy.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `)) ?? '');
    assert.match(directive('default-src'), /^default-src 'self'$/);
    const scripts = directive('script-src');
    assert.match(scripts, /'wasm-unsafe-eval'/);
    assert.doesNotMatch(scripts, /'unsafe-eval'|'unsafe-inline'|\*|https?:/, scripts);
    assert.doesNotMatch(policy, /https?:\/\//, 'no third-party origin');
    // The wasm's preload carries no integrity hash, which Chromium ignores there and warns
    // about on every load; the JS module's preload keeps its hash.
    const preloads = await page.$$eval('link[rel="preload"], link[rel="modulepreload"]', (ls) =>
      ls.map((l) => ({ rel: l.rel, as: l.getAttribute('as'), href: l.getAttribute('href'), integrity: l.getAttribute('integrity') })),
    );
    t.diagnostic(`preloads: ${JSON.stringify(preloads)}`);
    const wasm = preloads.filter((l) => l.as === 'fetch' && /\.wasm$/.test(l.href));
    assert.equal(wasm.length, 1, `one wasm preload: ${JSON.stringify(preloads)}`);
    assert.equal(wasm[0].integrity, null, `the wasm preload has integrity: ${JSON.stringify(wasm[0])}`);
    const modules = preloads.filter((l) => l.rel === 'modulepreload');
    assert.ok(modules.length >= 1 && modules.every((l) => /^sha384-/.test(l.integrity ?? '')), `module preloads keep their hashes: ${JSON.stringify(modules)}`);
    // The policy must not merely exist but hold while the app works: a violation is a console
    // error, which withApp turns into a failure.
    await page.locator(sel('load-demo')).click();
    await waitForSummary(app, 'numbers', (nums) => nums.length > 0);
    await trainAndWait(app);
    await page.locator(sel('user-id')).fill('1');
    await page.locator(sel('user-id')).press('Enter');
    await app.wait('10 recommendations', async () => (await page.locator(sel('rec-row')).count()) === TOP_N);
  });
});

test('business impact recalculates as the inputs change', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'impact', async (app) => {
    const { page, wait } = app;
    const text = (id) => testIdText(page, id);
    const expectText = (id, want) =>
      wait(`[data-testid=${id}] to read ${want}`, async () => {
        const got = await text(id);
        return { done: got === want, value: got, seen: JSON.stringify(got) };
      });
    // The seed notebook's inputs: 50,000 customers × 70% retained × 12% uplift × 2,000 a year.
    await expectText('impact-customers-gained', '4,200');
    await expectText('impact-revenue', '$8,400,000');
    await page.locator(sel('impact-uplift')).fill('10');
    await expectText('impact-customers-gained', '3,500');
    await expectText('impact-revenue', '$7,000,000');
    await page.locator(sel('impact-currency')).selectOption('EUR');
    await expectText('impact-revenue', '€7,000,000');
    await page.locator(sel('impact-retention')).fill('150');
    await wait('a message for a retention over 100%', async () => {
      const body = await pageText(page);
      return { done: body.includes('Retention must be between 0% and 100%'), seen: '(no message)' };
    });
  });
});

/** Mean of a cv-row's "mean ± std" cell. */
async function readCvRows(page) {
  return page.$$eval('[data-testid="cv-row"]', (rows) =>
    rows.map((row) => ({ text: row.innerText, best: row.classList.contains('best') })),
  ).then((rows) =>
    rows.map((r) => {
      const m = r.text.match(/(\d+\.\d+)\s*±\s*(\d+\.\d+)/);
      return { ...r, mean: m ? Number(m[1]) : NaN, std: m ? Number(m[2]) : NaN };
    }),
  );
}

test('cross-validation: the default grid, the winner, the charts; and a single fit without it', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'cv', async (app) => {
    const { page, wait } = app;
    await page.locator(sel('load-demo')).click();
    await waitForSummary(app, 'numbers', (nums) => nums.length > 0);
    const plan = await testIdText(page, 'cv-plan');
    assert.match(plan, /6 grid points × 3 folds = 18 fits/, `the grid editor's plan: ${plan}`);
    await trainAndWait(app);
    const rows = await readCvRows(page);
    t.diagnostic(`cv rows: ${rows.map((r) => r.text.replace(/\s+/g, ' ')).join(' | ')}`);
    assert.equal(rows.length, 6, 'one cv-row per grid point (rank 10, 20 × reg 0.05, 0.1, 0.2)');
    assert.ok(rows.every((r) => Number.isFinite(r.mean) && r.mean > 0 && r.mean < 2), 'every grid point has a plausible mean RMSE');
    const winners = rows.filter((r) => r.best);
    assert.equal(winners.length, 1, 'exactly one winner row');
    assert.equal(winners[0].mean, Math.min(...rows.map((r) => r.mean)), 'the winner has the lowest mean RMSE');
    assert.match(winners[0].text, /chosen/);
    for (const id of ['cv-chart', 'loss-chart']) {
      const svgs = await page.locator(`${sel(id)} svg`).count();
      assert.equal(svgs, 1, `[data-testid=${id}] holds an SVG chart`);
    }
    await screenshot(page, 'cv.png');

    // Without cross-validation, Train fits the typed parameters once.
    await page.locator(sel('cv-enabled')).uncheck();
    await page.locator(sel('param-rank')).fill('5');
    await trainAndWait(app);
    assert.equal(await page.locator(sel('cv-row')).count(), 0, 'no cv-row after a run without cross-validation');
    const hint = await page.locator('.score .hint').first().innerText();
    assert.match(hint, /rank 5/, `the final model is the typed one: ${hint}`);
  });
});

test('cancel stops a 3-fold, 6-point grid on 100k ratings within a second, and the page answers clicks', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'cancel', async (app) => {
    const { page, wait } = app;
    const data = plantedRatings({ seed: 7, nUsers: 2000, nItems: 1500, nRatings: 100_000, rank: 5 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'affinity-e2e-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'big.csv');
    writeFileSync(file, data.csv);
    await page.locator(sel('ratings-file')).setInputFiles(file);
    await waitForSummary(app, `${data.nRatings} ratings`, (nums) => nums.includes(data.nRatings));
    // 40 iterations a fit: the grid lasts several seconds, time for the bar to move twice (it
    // shows a run's progress four times a second, from a quarter second in) and for the
    // checks below before Cancel.
    await page.locator(sel('cv-max-iters')).fill('40');
    await page.locator(sel('train')).click();
    const progressValue = () => page.locator(sel('progress')).evaluate((el) => Number(el.value));
    // The bar moves: the value grows while the grid runs.
    const first = await wait('the progress bar to move', async () => {
      const v = await progressValue();
      return { done: v > 0, value: v, seen: String(v) };
    });
    await wait('the progress bar to move again', async () => {
      const v = await progressValue();
      return { done: v > first, value: v, seen: `${v} (first ${first})` };
    });
    // The page answers: a click on an unrelated control is handled at once.
    const clickStart = Date.now();
    await page.locator(sel('impact-uplift')).fill('11');
    await wait('the calculator to follow', async () => {
      const text = await testIdText(page, 'impact-customers-gained');
      return { done: text === '3,850', seen: JSON.stringify(text) };
    });
    t.diagnostic(`a click during training was answered in ${Date.now() - clickStart} ms`);
    const status = await testIdText(page, 'train-status');
    assert.match(status, /^Fit \d+ of 19/, `status while training: ${status}`);
    const cancelAt = Date.now();
    await page.locator(sel('cancel')).click();
    await wait('the run to be cancelled', async () => {
      const text = await testIdText(page, 'train-status');
      return { done: /Cancelled/.test(text ?? ''), seen: JSON.stringify(text) };
    }, { timeout: 1000 });
    const cancelMs = Date.now() - cancelAt;
    t.diagnostic(`cancelled in ${cancelMs} ms, after ${status}`);
    assert.ok(cancelMs < 1000, `cancel took ${cancelMs} ms`);
    assert.equal(await progressValue(), 0, 'the bar resets');
    assert.ok(await page.locator(sel('train')).isEnabled(), 'Train is available again');
    // No late result of the cancelled run appears.
    await page.waitForTimeout(1500);
    assert.equal(await page.locator(sel('test-rmse')).count(), 0, 'no result of the cancelled run');
  });
});

test('an uploaded ratings + metadata pair shows titles and categories, and repeated ratings are reported', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'metadata', async (app) => {
    const { page, wait } = app;
    const data = plantedRatings({ seed: 11, nUsers: 300, nItems: 200, nRatings: 8_000, rank: 3 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'affinity-e2e-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // The last line repeats the first rating's pair: the last one wins and the page says so.
    const firstPair = data.csv.split('\n')[1].split(',').slice(0, 2).join(',');
    writeFileSync(path.join(dir, 'ratings.csv'), `${data.csv}\n${firstPair},1\n`);
    const genres = ['Drama', 'Comedy', 'Horror', 'Sci-Fi'];
    const meta = ['movieId,title,genres'];
    for (const item of data.items) meta.push(`${item},"Film ${item.slice(1)}, the cut",${genres[Number(item.slice(1)) % 4]}|Indie`);
    writeFileSync(path.join(dir, 'movies.csv'), meta.join('\n'));
    await page.locator(sel('ratings-file')).setInputFiles(path.join(dir, 'ratings.csv'));
    await waitForSummary(app, `${data.nRatings} ratings`, (nums) => nums.includes(data.nRatings));
    const notice = await testIdText(page, 'data-notice');
    assert.match(notice ?? '', /1 repeated ratings were dropped/, `duplicate notice: ${notice}`);
    await page.locator(sel('metadata-file')).setInputFiles(path.join(dir, 'movies.csv'));
    await wait('the metadata notice', async () => {
      const text = await testIdText(page, 'data-notice');
      return { done: /titles and categories for 200 rated items/.test(text ?? ''), seen: JSON.stringify(text) };
    });
    await page.locator(sel('cv-enabled')).uncheck();
    await trainAndWait(app);
    await page.locator(sel('user-id')).fill('u1');
    await page.locator(sel('user-id')).press('Enter');
    const rows = await waitForRows(app, `${TOP_N} rec-row for u1`);
    for (const r of rows) assert.match(r.title, /^Film \d+, the cut$/, `a title from the metadata file: ${r.title}`);
    const cats = await page.$$eval('[data-testid="rec-row"] [data-testid="rec-categories"]', (els) => els.map((e) => e.innerText));
    assert.ok(cats.length === TOP_N && cats.every((c) => /Indie/.test(c)), `categories shown: ${cats}`);
  });
});
