// End-to-end tests of the Recommend screen and its neighbours (similar titles, try it
// yourself, export) on the demo catalog, in headless Chromium.
//
//   AFFINITY_DIST=dist node --test tests/e2e/recommend.test.mjs
//
// Every test loads the demo, trains, and checks what a visitor sees. Like app.test.mjs, any
// page error, console error, failed or external request fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

import {
  REPO_ROOT,
  openRecordedPage,
  pageText,
  waitUntil,
  testIdText,
  numbersIn,
  sharedSite,
  recordDownloads,
} from './harness.mjs';

const WAIT = 120_000;
const TEST_TIMEOUT = 420_000;
const SCREENSHOTS = path.join(REPO_ROOT, 'target', 'e2e-screenshots');
const DEMO_USERS = 800;

const sel = (id) => `[data-testid="${id}"]`;

const setup = sharedSite();

/**
 * Opens the site with the demo loaded and a model trained, runs `body`, and adds the page's
 * text, the error banner, the recorded problems and a screenshot to any failure.
 *
 * Downloads are recorded in the page: every object URL keeps its Blob, and every click on an
 * `<a download>` is logged with its file name, so a test can read what would be saved.
 */
async function withTrainedDemo(t, name, body) {
  const { server, browser } = await setup();
  rmSync(path.join(SCREENSHOTS, `${name}-failure.png`), { force: true });
  const rec = await openRecordedPage(browser, server.origin, { viewport: { width: 1280, height: 800 } });
  const { page, context } = rec;
  context.setDefaultTimeout(WAIT);
  await page.addInitScript(recordDownloads);
  const failFast = () => (rec.problems.pageErrors.length ? `uncaught error in the page: ${rec.problems.pageErrors[0]}` : null);
  const wait = (what, probe, opts = {}) => waitUntil(what, probe, { timeout: WAIT, failFast, ...opts });
  const app = { page, rec, wait, t };
  try {
    await page.goto(server.url('/'), { waitUntil: 'load' });
    await wait('the app to mount', async () => (await page.locator(sel('load-demo')).count()) > 0);
    await page.locator(sel('load-demo')).click();
    await page.locator(sel('train')).click();
    await wait('[data-testid=test-rmse] to show a number', async () => {
      const text = await testIdText(page, 'test-rmse');
      const errorText = await testIdText(page, 'error');
      return {
        done: text != null && numbersIn(text).some(Number.isFinite),
        seen: `test-rmse ${JSON.stringify(text)}, error ${JSON.stringify(errorText)}`,
      };
    });
    await body(app);
    rec.assertClean();
  } catch (e) {
    const parts = [`Recorded problems:\n${rec.problemReport() || 'none'}`];
    if (!page.isClosed()) {
      parts.push(`[data-testid=error] text: ${JSON.stringify(await testIdText(page, 'error').catch(() => null))}`);
      const text = await pageText(page);
      parts.push(`Page text:\n${text.length > 6000 ? text.slice(0, 6000) + '\n…(cut)' : text}`);
      try {
        mkdirSync(SCREENSHOTS, { recursive: true });
        const shot = path.join(SCREENSHOTS, `${name}-failure.png`);
        await page.screenshot({ path: shot, fullPage: true, timeout: 10_000 });
        parts.push(`Screenshot: ${shot}`);
      } catch (err) {
        parts.push(`(no screenshot: ${err.message})`);
      }
    }
    e.message = `${e.message}\n\n${parts.join('\n')}`;
    throw e;
  } finally {
    await context.close();
  }
}

/** Recommendation rows: [{ title, categories: [..], score }], in page order. */
async function recRows(page) {
  return page.$$eval('[data-testid="rec-row"]', (rows) =>
    rows.map((row) => ({
      title: row.querySelector('[data-testid="rec-title"]')?.textContent.trim() ?? null,
      categories: (row.querySelector('[data-testid="rec-categories"]')?.textContent ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      score: Number(row.querySelector('[data-testid="rec-score"]')?.textContent.trim()),
    })),
  );
}

/** Text of every element with `id` inside `scope` (a data-testid), in page order. */
async function texts(page, id, scope = null) {
  const css = scope ? `${sel(scope)} ${sel(id)}` : sel(id);
  return page.$$eval(css, (els) => els.map((e) => e.textContent.trim()));
}

/** Waits until the rows satisfy `ok(rows)`; returns them. */
async function waitForRecRows({ page, wait }, what, ok) {
  return wait(what, async () => {
    const rows = await recRows(page);
    const errorText = await testIdText(page, 'error');
    return {
      done: ok(rows),
      value: rows,
      seen: `${rows.length} rows ${JSON.stringify(rows.map((r) => `${r.title} [${r.categories.join('/')}] ${r.score}`))}, error ${JSON.stringify(errorText)}`,
    };
  });
}

function checkRanked(rows, who) {
  const shown = JSON.stringify(rows);
  for (const [k, r] of rows.entries()) {
    assert.ok(r.title, `row ${k + 1} for ${who} has no title: ${shown}`);
    assert.ok(Number.isFinite(r.score), `row ${k + 1} for ${who} has no finite score: ${shown}`);
    if (k > 0) assert.ok(r.score <= rows[k - 1].score + 1e-9, `scores for ${who} increase at row ${k + 1}: ${shown}`);
  }
  assert.equal(new Set(rows.map((r) => r.title)).size, rows.length, `duplicate titles for ${who}: ${shown}`);
}

/** Asks for user `id`'s top `n` and waits for the list. */
async function recommend(app, id, n) {
  const { page } = app;
  await page.locator(sel('rec-n')).fill(String(n));
  await page.locator(sel('user-id')).fill(id);
  await page.locator(sel('recommend')).click();
  return waitForRecRows(app, `${n} rec-row for user ${id}`, (rows) => rows.length === n);
}

/** The download recorded at position `index`: name, MIME type, size, text and first bytes. */
async function download(app, index) {
  const { page, wait } = app;
  await wait(`download #${index + 1}`, async () => (await page.evaluate(() => window.__e2eDownloads.length)) > index);
  return page.evaluate(async (i) => {
    const d = window.__e2eDownloads[i];
    const blob = window.__e2eBlobs.get(d.href);
    if (!blob) return { name: d.name, missing: true };
    const bytes = new Uint8Array(await blob.arrayBuffer());
    return { name: d.name, type: blob.type, size: blob.size, text: new TextDecoder().decode(bytes), head: [...bytes.slice(0, 4)] };
  }, index);
}

/** CSV rows (no quoted commas in the demo's titles), header first. */
const csvLines = (text) => text.split(/\r?\n/).filter((l) => l.length > 0).map((l) => l.split(','));

test('top N, category filter, rated titles and why', { timeout: TEST_TIMEOUT }, async (t) => {
  await withTrainedDemo(t, 'recommend-list', async (app) => {
    const { page, wait } = app;

    // The user id field suggests ids and says when one is unknown.
    const suggested = await page.$$eval('#user-id-options option', (os) => os.map((o) => o.value));
    assert.ok(suggested.length > 0 && suggested.length <= 200, `${suggested.length} user id suggestions`);
    await page.locator(sel('user-id')).fill('99999');
    await wait('the hint to say no user starts with 99999', async () =>
      ((await testIdText(page, 'user-id-hint')) ?? '').includes('No user id starts with "99999"'),
    );

    const rows = await recommend(app, '1', 15);
    checkRanked(rows, 'demo user 1');
    assert.ok(rows.every((r) => r.categories.length > 0), `demo rows show their categories: ${JSON.stringify(rows)}`);

    // Their own ratings beside the list, highest first, none of them recommended.
    const rated = await texts(page, 'rated-title');
    assert.ok(rated.length >= 5, `only ${rated.length} rated-row for user 1`);
    const ratedValues = await page.$$eval('[data-testid="rated-row"] .rated-value', (els) => els.map((e) => parseFloat(e.textContent)));
    for (let k = 1; k < ratedValues.length; k++) {
      assert.ok(ratedValues[k] <= ratedValues[k - 1], `rated-row values not highest first: ${ratedValues}`);
    }
    const ratedSet = new Set(rated);
    assert.ok(rows.every((r) => !ratedSet.has(r.title)), 'a title the user rated is recommended while "hide rated" is on');

    // "Why" lists rated titles, on demand.
    assert.equal(await page.locator(`${sel('rec-row')} ${sel('why-row')}`).count(), 0, 'why rows shown before asking');
    const firstWhy = page.locator(sel('rec-row')).first().locator(sel('why'));
    await firstWhy.click();
    assert.equal(await firstWhy.getAttribute('aria-expanded'), 'true');
    const why = await wait('why-row under the first recommendation', async () => {
      const titles = await page.locator(sel('rec-row')).first().locator(sel('why-title')).allTextContents();
      return { done: titles.length > 0, value: titles, seen: JSON.stringify(titles) };
    });
    t.diagnostic(`why ${rows[0].title}: ${why.join('; ')}`);
    for (const title of why) assert.ok(ratedSet.has(title), `why lists ${JSON.stringify(title)}, which user 1 did not rate`);

    // Leave out the first row's first category: still 15 rows, none in it.
    const category = rows[0].categories[0];
    const options = await page.$$eval(`${sel('category-filter')} option`, (os) => os.map((o) => o.value).filter(Boolean));
    assert.ok(options.length >= 5 && options.includes(category), `category options ${JSON.stringify(options)} lack ${category}`);
    await page.locator(sel('category-filter')).selectOption(category);
    await page.locator(sel('category-mode')).selectOption('exclude');
    const without = await waitForRecRows(app, `15 rows none of them ${category}`, (rs) =>
      rs.length === 15 && rs.every((r) => !r.categories.includes(category)),
    );
    checkRanked(without, `user 1 without ${category}`);

    // Only that category: 15 rows, all in it.
    await page.locator(sel('category-mode')).selectOption('include');
    const only = await waitForRecRows(app, `15 rows all of them ${category}`, (rs) =>
      rs.length === 15 && rs.every((r) => r.categories.includes(category)),
    );
    checkRanked(only, `user 1, ${category} only`);

    // Back to all categories, rated titles shown: some of their favourites come back.
    await page.locator(sel('category-filter')).selectOption('');
    await page.locator(sel('hide-rated')).uncheck();
    const withRated = await waitForRecRows(app, '15 rows including a rated title', (rs) =>
      rs.length === 15 && rs.some((r) => ratedSet.has(r.title)),
    );
    checkRanked(withRated, 'user 1 with rated titles');

    // N out of range says so instead of listing.
    await page.locator(sel('rec-n')).fill('500');
    await wait('a message for N = 500', async () => (await pageText(page)).includes('whole number from 1 to 100'));
    await page.locator(sel('rec-n')).fill('3');
    await waitForRecRows(app, '3 rows for N = 3', (rs) => rs.length === 3);
  });
});

test('similar titles from a recommendation and from the search box', { timeout: TEST_TIMEOUT }, async (t) => {
  await withTrainedDemo(t, 'recommend-similar', async (app) => {
    const { page, wait } = app;
    const rows = await recommend(app, '7', 10);
    await page.locator(sel('rec-row')).first().locator(sel('rec-similar')).click();
    const readSimilar = async () => ({
      titles: await texts(page, 'similar-title'),
      scores: (await texts(page, 'similar-score')).map(Number),
      heading: await testIdText(page, 'similar-for'),
    });
    const first = await wait(`10 similar-row for ${rows[0].title}`, async () => {
      const s = await readSimilar();
      return { done: s.titles.length === 10 && (s.heading ?? '').includes(rows[0].title), value: s, seen: JSON.stringify(s) };
    });
    assert.ok(!first.titles.includes(rows[0].title), 'a title is listed as similar to itself');
    assert.ok(first.scores.every((c, k) => c <= 1.0001 && c >= -1.0001 && (k === 0 || c <= first.scores[k - 1] + 1e-9)), `cosines ${first.scores}`);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'similar-title', 'focus moves to the similar titles');
    assert.equal(await page.locator(sel('similar-query')).inputValue(), rows[0].title);

    // Search for another title by typing it.
    const other = first.titles[3];
    await page.locator(sel('similar-query')).fill(other);
    await page.locator(sel('similar-query')).press('Enter');
    const second = await wait(`10 similar-row for ${other}`, async () => {
      const s = await readSimilar();
      return { done: s.titles.length === 10 && (s.heading ?? '').includes(other), value: s, seen: JSON.stringify(s) };
    });
    assert.ok(!second.titles.includes(other));
    t.diagnostic(`similar to ${other}: ${second.titles.join('; ')}`);

    await page.locator(sel('similar-query')).fill('zzzz no such title');
    await page.locator(sel('similar-show')).click();
    await wait('a message for an unknown title', async () => (await pageText(page)).includes('No title contains "zzzz no such title"'));
  });
});

test('try it yourself: a new visitor gets recommendations without retraining', { timeout: TEST_TIMEOUT }, async (t) => {
  await withTrainedDemo(t, 'recommend-try', async (app) => {
    const { page, wait } = app;
    const pickers = page.locator(sel('try-rate'));
    assert.ok((await pickers.count()) >= 5, `only ${await pickers.count()} try-rate inputs`);

    // Nothing rated: a message, no rows.
    await page.locator(sel('try-recommend')).click();
    await wait('the try-message for no ratings', async () => ((await testIdText(page, 'try-message')) ?? '').includes('Rate at least one'));
    assert.equal(await page.locator(sel('try-row')).count(), 0);

    const titles = await page.$$eval('.try-pick .try-title', (els) => els.map((e) => e.textContent.trim()));
    const stars = ['5', '5', '4', '1', '2'];
    for (const [k, s] of stars.entries()) await pickers.nth(k).selectOption(s);
    await page.locator(sel('try-recommend')).click();
    const got = await wait('10 try-row', async () => {
      const rows = await texts(page, 'try-title');
      return { done: rows.length === 10, value: rows, seen: JSON.stringify(rows) };
    });
    const mine = new Set(titles.slice(0, stars.length));
    assert.ok(got.every((title) => !mine.has(title)), `a title just rated is recommended: ${got}`);
    assert.equal(new Set(got).size, 10, 'duplicate try rows');
    t.diagnostic(`rated ${[...mine].join('; ')} -> ${got.join('; ')}`);

    // Changing a rating updates the list at once.
    await pickers.nth(0).selectOption('1');
    await pickers.nth(3).selectOption('5');
    await wait('the try rows to change', async () => {
      const rows = await texts(page, 'try-title');
      return { done: rows.length === 10 && rows.join('|') !== got.join('|'), seen: JSON.stringify(rows) };
    });
  });
});

test('exports: this user, every user, the model', { timeout: TEST_TIMEOUT }, async (t) => {
  await withTrainedDemo(t, 'recommend-export', async (app) => {
    const { page } = app;
    assert.ok(await page.locator(sel('export-user-csv')).isDisabled(), "the user export is enabled before there is a user's list");
    const rows = await recommend(app, '3', 12);

    await page.locator(sel('export-user-csv')).click();
    const user = await download(app, 0);
    assert.equal(user.name, 'recommendations-user-3.csv');
    assert.match(user.type, /^text\/csv/);
    const userLines = csvLines(user.text);
    assert.deepEqual(userLines[0], ['user', 'rank', 'item', 'title', 'score']);
    assert.equal(userLines.length, 1 + 12, user.text);
    assert.deepEqual(userLines.slice(1).map((l) => l[0]), Array(12).fill('3'));
    assert.deepEqual(userLines.slice(1).map((l) => Number(l[1])), [...Array(12).keys()].map((k) => k + 1));
    assert.deepEqual(userLines.slice(1).map((l) => l[3]), rows.map((r) => r.title), 'the CSV lists what the page shows');

    await page.locator(sel('export-all-csv')).click();
    const all = await download(app, 1);
    assert.equal(all.name, 'recommendations-all-users.csv');
    const allLines = csvLines(all.text);
    assert.deepEqual(allLines[0], ['user', 'rank', 'item', 'title', 'score']);
    const perUser = new Map();
    for (const l of allLines.slice(1)) perUser.set(l[0], (perUser.get(l[0]) ?? 0) + 1);
    assert.ok(perUser.size > DEMO_USERS * 0.9 && perUser.size <= DEMO_USERS, `${perUser.size} users in the export`);
    assert.ok([...perUser.values()].every((c) => c === 12), 'every user has 12 rows');
    t.diagnostic(`all-users CSV: ${allLines.length - 1} rows for ${perUser.size} users, ${all.size} bytes`);

    await page.locator(sel('export-model')).click();
    const model = await download(app, 2);
    assert.equal(model.name, 'affinity-model.affm');
    assert.deepEqual(model.head, [...Buffer.from('AFFM')], 'the model file starts with the AFFM magic');
    assert.ok(model.size > 500 * 4, `model file of ${model.size} bytes`);
    const status = await testIdText(page, 'export-status');
    assert.match(status ?? '', /Saved affinity-model\.affm/);

    // The Spark job reproduces the trained model's parameters (without biases, which Spark lacks).
    await page.locator(sel('export-spark-job')).click();
    const job = await download(app, 3);
    assert.equal(job.name, 'affinity-spark-job.py');
    assert.match(job.text, /pyspark/, 'a PySpark script');
    assert.match(job.text, /--ratings/, 'it takes the ratings path as an argument');
    assert.match(job.text, /userFactors/, 'it writes the user factors');
    const jobStatus = await testIdText(page, 'export-status');
    assert.match(jobStatus ?? '', /Spark has no biases/);
  });
});
