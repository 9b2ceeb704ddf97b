// Quality of the studio in headless Chromium: the data preview and column mapping, drag and
// drop, the dark theme, keyboard use and an axe-core accessibility audit.
//
//   AFFINITY_DIST=dist node --test tests/e2e/quality.test.mjs
//
// Screenshots of the Data section (1280×800 and 390×844, light and dark) go to
// $AFFINITY_SHOTS (default <repo>/target/e2e-screenshots).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import {
  REPO_ROOT,
  openRecordedPage,
  pageText,
  waitUntil,
  testIdText,
  numbersIn,
  sharedSite,
} from './harness.mjs';

const WAIT = 120_000;
const TEST_TIMEOUT = 420_000;
const SHOTS = process.env.AFFINITY_SHOTS ? path.resolve(process.env.AFFINITY_SHOTS) : path.join(REPO_ROOT, 'target', 'e2e-screenshots');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const sel = (id) => `[data-testid="${id}"]`;
const DATA_SECTION = 'section[aria-labelledby="data-title"]';

const setup = sharedSite();

/** Runs `body` on a fresh page; adds the page text and recorded problems to any failure. */
async function withApp(t, name, body, { viewport = { width: 1280, height: 800 } } = {}) {
  const { server, browser } = await setup();
  const rec = await openRecordedPage(browser, server.origin, { viewport });
  const { page, context } = rec;
  context.setDefaultTimeout(WAIT);
  const failFast = () => (rec.problems.pageErrors.length ? `uncaught error in the page: ${rec.problems.pageErrors[0]}` : null);
  const wait = (what, probe, opts = {}) => waitUntil(what, probe, { timeout: WAIT, failFast, ...opts });
  const app = { page, rec, server, wait, t, context };
  try {
    await open(app);
    await body(app);
    await page.waitForTimeout(250);
    rec.assertClean();
  } catch (err) {
    const problems = rec.problemReport();
    const text = page.isClosed() ? '(closed)' : await pageText(page);
    try {
      mkdirSync(SHOTS, { recursive: true });
      if (!page.isClosed()) await page.screenshot({ path: path.join(SHOTS, `${name}-failure.png`), fullPage: true });
    } catch {
      // no screenshot
    }
    err.message += `\n\nRecorded problems: ${problems || 'none'}\n[data-testid=error]: ${JSON.stringify(
      page.isClosed() ? null : await testIdText(page, 'error').catch(() => null),
    )}\nPage text:\n${text.slice(0, 5000)}`;
    throw err;
  } finally {
    if (!page.isClosed()) await context.close().catch(() => {});
  }
}

async function open({ page, server, wait }) {
  await page.goto(server.url('/'), { waitUntil: 'load' });
  await wait('the app to mount', async () => (await page.locator(sel('ratings-file')).count()) > 0);
}

/** The dataset summary's text once it satisfies `ok(text)`. */
async function summaryWhere({ page, wait }, what, ok) {
  return wait(`the summary to show ${what}`, async () => {
    const text = (await testIdText(page, 'dataset-summary')) ?? '';
    return { done: ok(text.replace(/\s+/g, ' ')), value: text, seen: JSON.stringify(text) };
  });
}

/** "Users 3" → 3. */
function count(text, label) {
  const m = text.replace(/\s+/g, ' ').match(new RegExp(`${label}\\s*(\\d[\\d,]*)`, 'i'));
  return m ? Number(m[1].replace(/,/g, '')) : null;
}

/** Runs axe on the whole page; returns the violations of serious or critical impact. */
async function seriousViolations(page) {
  // page.evaluate runs through the DevTools protocol, which the page's strict CSP
  // (default-src 'self') does not govern, unlike an injected <script> tag.
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 6).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.replace(/\s+/g, ' ')}`),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

function describe(violations) {
  return violations.map((v) => `- ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');
}

async function theme(page) {
  return page.evaluate(() => document.documentElement.dataset.theme ?? null);
}

async function shot(locator, file) {
  mkdirSync(SHOTS, { recursive: true });
  await locator.screenshot({ path: path.join(SHOTS, file) });
}

// A small ratings file whose users and items differ in number, so swapping the two columns
// shows in the summary: 3 users, 7 items, 12 ratings.
const SMALL_CSV = [
  'userId,movieId,rating,timestamp',
  'u1,m1,5,100',
  'u1,m2,3,101',
  'u1,m3,4,102',
  'u1,m4,2,103',
  'u2,m1,4,104',
  'u2,m5,5,105',
  'u2,m6,1,106',
  'u2,m7,3,107',
  'u3,m2,4,108',
  'u3,m3,5,109',
  'u3,m6,2,110',
  'u3,m7,4,111',
].join('\n') + '\n';

test('data preview, column mapping and drag and drop', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'quality-preview', async (app) => {
    const { page, wait } = app;
    await page.locator(sel('ratings-file')).setInputFiles({ name: 'small.csv', mimeType: 'text/csv', buffer: Buffer.from(SMALL_CSV) });
    await summaryWhere(app, '12 ratings by 3 users of 7 items', (s) => count(s, 'Ratings') === 12 && count(s, 'Users') === 3 && count(s, 'Items') === 7);

    // The preview: the first 8 rows under the detected header, and what was detected.
    const detected = await testIdText(page, 'detected-format');
    assert.match(detected, /comma/i, `detected format: ${detected}`);
    assert.match(detected, /with a header line/i, `detected format: ${detected}`);
    const rows = page.locator(sel('preview-row'));
    assert.equal(await rows.count(), 8, 'the preview shows the first 8 rows');
    assert.deepEqual(
      (await rows.first().locator('td').allInnerTexts()).map((s) => s.trim()),
      ['u1', 'm1', '5', '100'],
      'the first preview row is the first data line, split into fields',
    );
    const heads = (await page.locator(`${sel('data-preview')} th`).allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim().toLowerCase());
    assert.deepEqual(heads, ['user userid', 'item movieid', 'rating rating', 'not used timestamp'], `preview header: ${heads}`);
    assert.equal(await page.locator(sel('map-delimiter')).inputValue(), 'comma');
    assert.equal(await page.locator(sel('map-header')).isChecked(), true);
    assert.equal(await page.locator(sel('rating-histogram')).locator('svg').count(), 1, 'a rating histogram under the summary');
    assert.equal(await page.locator(sel('long-tail-chart')).locator('svg').count(), 1, 'a long-tail chart under the summary');

    // Swap users and items. Half-way, both roles point at one column: said at once.
    await page.locator(sel('map-user')).selectOption('1');
    const clash = await wait('the mapping error to name the clash', async () => {
      const text = await testIdText(page, 'mapping-error');
      return { done: !!text && /column 2/.test(text), value: text, seen: JSON.stringify(text) };
    });
    t.diagnostic(`clash: ${clash}`);
    await page.locator(sel('map-item')).selectOption('0');
    await summaryWhere(app, '7 users and 3 items after the swap', (s) => count(s, 'Users') === 7 && count(s, 'Items') === 3);
    assert.equal(await page.locator(sel('mapping-error')).isHidden(), true, 'the clash message goes once the mapping is valid');
    assert.match(await page.locator(`${sel('data-preview')} th`).first().innerText(), /item/i, 'the preview marks column 1 as the item now');

    // No header: the header line becomes a rating "rating", which is not a number.
    await page.locator(sel('map-header')).uncheck();
    const bad = await wait('the mapping error for the header line read as data', async () => {
      const text = await testIdText(page, 'mapping-error');
      return { done: !!text && text.includes('line 1') && text.includes('"rating"'), value: text, seen: JSON.stringify(text) };
    });
    t.diagnostic(`header off: ${bad}`);
    assert.equal(await rows.count(), 8);
    assert.equal(count(await testIdText(page, 'dataset-summary'), 'Users'), 7, 'a failed mapping keeps the last dataset');

    // Back to the detected format.
    await page.locator(sel('map-reset')).click();
    await summaryWhere(app, '3 users and 7 items again', (s) => count(s, 'Users') === 3 && count(s, 'Items') === 7);

    // A semicolon file dropped anywhere on the Data section.
    await page.evaluate(
      ({ section, text }) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], 'dropped.csv', { type: 'text/csv' }));
        const target = document.querySelector(section).querySelector('h2');
        for (const type of ['dragenter', 'dragover', 'drop']) {
          target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
        }
      },
      { section: DATA_SECTION, text: 'a;x;4\nb;x;3\nc;y;5\na;y;2\n' },
    );
    const dropped = await summaryWhere(app, 'the dropped file: 4 ratings by 3 users', (s) => /dropped\.csv/.test(s) && count(s, 'Ratings') === 4 && count(s, 'Users') === 3);
    t.diagnostic(`dropped: ${dropped.replace(/\s+/g, ' ')}`);
    assert.match(await testIdText(page, 'detected-format'), /semicolon.*no header line/i);
    assert.equal(await page.locator(sel('map-delimiter')).inputValue(), 'semicolon');
    assert.equal(await rows.count(), 4);
    assert.equal(await page.locator(`${DATA_SECTION}.dropping`).count(), 0, 'the drop highlight is cleared');

    // Light and dark screenshots of the Data section at desktop size, with the preview.
    const section = page.locator(DATA_SECTION);
    await page.locator(sel('ratings-file')).setInputFiles({ name: 'small.csv', mimeType: 'text/csv', buffer: Buffer.from(SMALL_CSV) });
    await summaryWhere(app, '3 users', (s) => count(s, 'Users') === 3 && /small\.csv/.test(s));
    if ((await theme(page)) === 'dark') await page.locator(sel('theme-toggle')).click();
    await shot(section, 'data-desktop-light.png');
    await page.locator(sel('theme-toggle')).click();
    await wait('the dark theme', async () => (await theme(page)) === 'dark');
    await shot(section, 'data-desktop-dark.png');
  });
});

test('phone layout of the Data section, light and dark', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(
    t,
    'quality-phone',
    async (app) => {
      const { page, wait } = app;
      await page.locator(sel('load-demo')).click();
      await summaryWhere(app, 'the demo', (s) => (count(s, 'Ratings') ?? 0) > 1000);
      await page.locator(sel('ratings-file')).setInputFiles({ name: 'small.csv', mimeType: 'text/csv', buffer: Buffer.from(SMALL_CSV) });
      await summaryWhere(app, 'small.csv', (s) => /small\.csv/.test(s));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 390px phone`);
      const section = page.locator(DATA_SECTION);
      if ((await theme(page)) === 'dark') await page.locator(sel('theme-toggle')).click();
      await shot(section, 'data-phone-light.png');
      await page.locator(sel('theme-toggle')).click();
      await wait('the dark theme', async () => (await theme(page)) === 'dark');
      await shot(section, 'data-phone-dark.png');
      const violations = await seriousViolations(page);
      assert.equal(violations.length, 0, `axe (phone, dark, data preview) found serious or critical violations:\n${describe(violations)}`);
    },
    { viewport: { width: 390, height: 844 } },
  );
});

test('demo: train, recommend, keyboard and an axe audit in light and dark', { timeout: TEST_TIMEOUT }, async (t) => {
  await withApp(t, 'quality-axe', async (app) => {
    const { page, wait } = app;
    await page.locator(sel('load-demo')).click();
    await summaryWhere(app, 'the demo', (s) => (count(s, 'Ratings') ?? 0) > 1000);

    // One fit, no cross-validation, to keep the test short.
    await page.locator(sel('cv-enabled')).uncheck();
    await page.locator(sel('param-max-iter')).fill('5');
    await page.locator(sel('train')).click();
    await wait('a test RMSE', async () => {
      const text = await testIdText(page, 'test-rmse');
      return { done: !!text && numbersIn(text).some(Number.isFinite), value: text, seen: JSON.stringify(text) };
    });
    await page.locator(sel('user-id')).fill('1');
    await page.locator(sel('recommend')).click();
    await wait('10 recommendations', async () => (await page.locator(sel('rec-row')).count()) === 10);

    // Keyboard: Tab from the top of the page reaches Train and the user id field.
    await page.evaluate(() => {
      document.activeElement?.blur();
      window.scrollTo(0, 0);
    });
    await page.locator('body').focus();
    const reached = new Set();
    for (let k = 0; k < 250 && !(reached.has('train') && reached.has('user-id')); k++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
      if (id) reached.add(id);
    }
    assert.ok(reached.has('train'), `Tab never reached Train; reached ${[...reached].join(', ')}`);
    assert.ok(reached.has('user-id'), `Tab never reached the user id field; reached ${[...reached].join(', ')}`);
    // The theme toggle works from the keyboard.
    await page.locator(sel('theme-toggle')).focus();
    const before = await theme(page);
    await page.keyboard.press('Enter');
    await wait('Enter on the theme toggle to switch the theme', async () => (await theme(page)) !== before);
    await page.keyboard.press('Enter');
    await wait('Enter again to switch back', async () => (await theme(page)) === before);

    // Light.
    if ((await theme(page)) !== 'light') await page.locator(sel('theme-toggle')).click();
    await wait('the light theme', async () => (await theme(page)) === 'light');
    const lightChart = await page.locator(`${sel('loss-chart')} svg`).innerHTML();
    const light = await seriousViolations(page);
    assert.equal(light.length, 0, `axe (light) found serious or critical violations:\n${describe(light)}`);

    // Dark: the CSS and the charts follow, and the choice survives a reload.
    await page.locator(sel('theme-toggle')).click();
    await wait('the dark theme', async () => (await theme(page)) === 'dark');
    assert.equal(await page.locator(sel('theme-toggle')).getAttribute('aria-pressed'), 'true');
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    assert.equal(bg, 'rgb(20, 21, 26)', 'the page background turns dark');
    const darkChart = await page.locator(`${sel('loss-chart')} svg`).innerHTML();
    assert.notEqual(darkChart, lightChart, 'the loss chart is redrawn for the dark theme');
    assert.ok(darkChart.includes('#E5E7EB'), 'the dark loss chart uses the dark palette text colour');
    for (const id of ['cv-chart', 'rating-histogram', 'long-tail-chart']) {
      const svg = page.locator(`${sel(id)} svg`);
      if ((await svg.count()) > 0) assert.ok((await svg.innerHTML()).includes('#E5E7EB'), `${id} follows the dark theme`);
    }
    const dark = await seriousViolations(page);
    assert.equal(dark.length, 0, `axe (dark) found serious or critical violations:\n${describe(dark)}`);

    // The loss chart is as wide as the CV chart's column, not a thumbnail.
    const lossWidth = await page.locator(`${sel('loss-chart')} svg`).evaluate((el) => el.getBoundingClientRect().width);
    assert.ok(lossWidth >= 500, `the loss chart is only ${lossWidth}px wide at 1280px`);

    await page.reload({ waitUntil: 'load' });
    await wait('the app to mount again', async () => (await page.locator(sel('theme-toggle')).count()) > 0);
    assert.equal(await theme(page), 'dark', 'the dark theme is remembered across a reload');
    await page.locator(sel('theme-toggle')).click();
    await wait('the light theme after a click', async () => (await theme(page)) === 'light');
  });
});
