// Reading a large ratings file: in a worker, slice by slice, with progress; a fault deep in
// the file named by its line; a second file picked mid-read wins.
//
//   AFFINITY_DIST=dist node --test tests/e2e/reading.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { openRecordedPage, pageText, waitUntil, testIdText, mulberry32, sharedSite } from './harness.mjs';

const WAIT = 180_000;
const TEST_TIMEOUT = 420_000;
const sel = (id) => `[data-testid="${id}"]`;
const setup = sharedSite();
const WORK = path.join(os.tmpdir(), `affinity-reading-${process.pid}`);

/**
 * A CSV of `n` ratings with a header (about 20 bytes a line), users and items drawn at
 * random; `bad` replaces the rating of data line `bad` (1-based, after the header) with text.
 */
function bigCsv(name, n, { bad } = {}) {
  mkdirSync(WORK, { recursive: true });
  const rand = mulberry32(n);
  const lines = ['user_id,item_id,rating'];
  for (let k = 1; k <= n; k++) {
    const u = Math.floor(rand() * 20_000);
    const i = Math.floor(rand() * 5_000);
    const r = k === bad ? 'oops' : String(1 + Math.floor(rand() * 5));
    lines.push(`u${u},i${i},${r}`);
  }
  const file = path.join(WORK, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function withPage(t, body) {
  const { server, browser } = await setup();
  const rec = await openRecordedPage(browser, server.origin);
  const { page, context } = rec;
  context.setDefaultTimeout(WAIT);
  const failFast = () => (rec.problems.pageErrors.length ? `uncaught error in the page: ${rec.problems.pageErrors[0]}` : null);
  const wait = (what, probe) => waitUntil(what, probe, { timeout: WAIT, interval: 50, failFast });
  try {
    await page.goto(server.url('/'), { waitUntil: 'load' });
    await wait('the app to mount', async () => (await page.locator(sel('ratings-file')).count()) > 0);
    await body({ page, wait, rec });
    rec.assertClean();
  } catch (err) {
    err.message += `\n\nRecorded problems: ${rec.problemReport() || 'none'}\nPage text:\n${(await pageText(page).catch(() => '')).slice(0, 3000)}`;
    throw err;
  } finally {
    await context.close().catch(() => {});
  }
}

/** Records, in the page, every value the read progress bar takes and every status text. */
async function watchProgress(page) {
  await page.evaluate(() => {
    window.__reads = { values: [], texts: [] };
    const obs = new MutationObserver(() => {
      const bar = document.querySelector('[data-testid="read-progress"]');
      const status = document.querySelector('[data-testid="read-status"]');
      if (bar && status && !status.hidden) {
        const v = Number(bar.value);
        if (window.__reads.values.at(-1) !== v) window.__reads.values.push(v);
        const t = status.innerText.trim();
        if (t && window.__reads.texts.at(-1) !== t) window.__reads.texts.push(t);
      }
    });
    obs.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}

function summaryCount(text, label) {
  const m = (text ?? '').replace(/\s+/g, ' ').match(new RegExp(`${label}\\s*(\\d[\\d,]*)`, 'i'));
  return m ? Number(m[1].replace(/,/g, '')) : null;
}

test('a 600,000-rating file is read in a worker, slice by slice, with progress shown as it goes', { timeout: TEST_TIMEOUT }, async (t) => {
  const n = 600_000;
  const file = bigCsv('big.csv', n);
  await withPage(t, async ({ page, wait }) => {
    await watchProgress(page);
    await page.locator(sel('ratings-file')).setInputFiles(file);
    const summary = await wait('the summary of the big file', async () => {
      const s = await testIdText(page, 'dataset-summary');
      return { done: summaryCount(s, 'Ratings') != null && summaryCount(s, 'Ratings') > 0, value: s, seen: s };
    });
    const reads = await page.evaluate(() => window.__reads);
    t.diagnostic(`progress values: ${reads.values.map((v) => v.toFixed(2)).join(' ')}`);
    t.diagnostic(`status texts: ${reads.texts.slice(0, 3).join(' | ')}`);
    // Duplicated (user, item) pairs collapse: the count is the distinct pairs, below n.
    const ratings = summaryCount(summary, 'Ratings');
    assert.ok(ratings > 0.9 * n && ratings <= n, `ratings in the summary: ${ratings}`);
    // The file is about 10 MB and is read in 4 MB slices: the bar must have stood strictly
    // between empty and full at least once, and only ever moved forward.
    const between = reads.values.filter((v) => v > 0 && v < 1);
    assert.ok(between.length >= 1, `the progress bar never showed a partial read: ${JSON.stringify(reads.values)}`);
    for (let k = 1; k < reads.values.length; k++) {
      if (reads.values[k] !== 0) assert.ok(reads.values[k] >= reads.values[k - 1] || reads.values[k - 1] === 1, `progress went back: ${reads.values}`);
    }
    assert.ok(reads.texts.some((s) => /Reading the file in the background: \d+% of [\d.]+ MB, [\d,]+ ratings so far/.test(s)), `status texts: ${reads.texts}`);
    // Once the whole file is read, the status says what is still being done, and says it last.
    assert.match(reads.texts.at(-1), /^All [\d.]+ MB read, [\d,]+ ratings: looking for repeated ratings and summarising them/, `status texts: ${reads.texts}`);
    assert.equal(await page.locator(sel('read-status')).isHidden(), true, 'the reading status is still shown after the read');
  });
});

test('a bad rating deep in a large file is named by its line, and the earlier dataset stays', { timeout: TEST_TIMEOUT }, async (t) => {
  const n = 400_000;
  const bad = 350_001;
  const file = bigCsv('bad-deep.csv', n, { bad });
  await withPage(t, async ({ page, wait }) => {
    await page.locator(sel('load-demo')).click();
    await wait('the demo summary', async () => {
      const s = await testIdText(page, 'dataset-summary');
      return { done: /Demo catalog/.test(s ?? ''), value: s, seen: s };
    });
    await page.locator(sel('ratings-file')).setInputFiles(file);
    const error = await wait('the error', async () => {
      const e = (await testIdText(page, 'error')) ?? '';
      return { done: e.trim().length > 0, value: e, seen: e };
    });
    t.diagnostic(`error: ${error}`);
    // Line numbers count the header: data line k is file line k + 1.
    assert.match(error, new RegExp(`bad-deep\\.csv: line ${bad + 1}, column \\d+: rating "oops" is not a number`));
    assert.match((await testIdText(page, 'dataset-summary')) ?? '', /Demo catalog/);
  });
});

test('picking a second file while a large one is read loads the second, not the first', { timeout: TEST_TIMEOUT }, async (t) => {
  const big = bigCsv('first-big.csv', 1_200_000);
  mkdirSync(WORK, { recursive: true });
  const small = path.join(WORK, 'second-small.csv');
  writeFileSync(small, 'user,item,rating\na,x,5\nb,x,3\nb,y,4\nc,y,2\n');
  await withPage(t, async ({ page, wait }) => {
    await page.locator(sel('ratings-file')).setInputFiles(big);
    // Once its first slice is read (its worker has loaded: stopping a worker still fetching
    // its script would abort that fetch, which the harness counts as a failed request).
    await wait('the big read to be under way', async () => {
      const text = (await testIdText(page, 'read-status')) ?? '';
      return { done: /in the background: \d+%/.test(text), value: text, seen: JSON.stringify(text) };
    });
    await page.locator(sel('ratings-file')).setInputFiles(small);
    await wait('the small file summary', async () => {
      const s = await testIdText(page, 'dataset-summary');
      return { done: summaryCount(s, 'Ratings') === 4, value: s, seen: s };
    });
    // Long after the big read would have finished, the small file is still the dataset.
    await page.waitForTimeout(4000);
    const s = await testIdText(page, 'dataset-summary');
    assert.equal(summaryCount(s, 'Ratings'), 4, `summary: ${s}`);
    assert.match(s, /second-small\.csv/);
    assert.equal(await page.locator(sel('read-status')).isHidden(), true);
  });
});
