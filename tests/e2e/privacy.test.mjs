// Privacy (issue 8): loading a file, training and recommending make no request beyond the
// page's own origin, and no request carries the visitor's data.
//
//   AFFINITY_DIST=dist node --test tests/e2e/privacy.test.mjs
//
// Three independent records are compared: Playwright's view of every request of the context
// (page and workers), the test server's log, and the page's own network APIs (fetch, XHR,
// sendBeacon, WebSocket, EventSource), wrapped before the app starts.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync, rmSync } from 'node:fs';
import path from 'node:path';

import {
  REPO_ROOT,
  distDir,
  startServer,
  launchBrowser,
  openRecordedPage,
  pageText,
  waitUntil,
  testIdText,
  numbersIn,
  plantedRatings,
} from './harness.mjs';

const WAIT = 120_000;
const SCREENSHOTS = path.join(REPO_ROOT, 'target', 'e2e-screenshots');
const sel = (id) => `[data-testid="${id}"]`;
/** A string found only in the visitor's files: it must never appear in a request. */
const MARKER = 'zq-private-7731';

let shared;
after(async () => {
  if (!shared) return;
  const { server, browser } = await shared.catch(() => ({}));
  await browser?.close();
  await server?.close();
});

/** Wraps the page's network APIs so every call is recorded with the URL it was given. */
function recordNetworkCalls() {
  const calls = [];
  Object.defineProperty(window, '__netCalls', { value: calls });
  const note = (api, url) => calls.push({ api, url: String(url instanceof Request ? url.url : url), at: performance.now() });
  const origFetch = window.fetch;
  window.fetch = function (input, init) {
    note('fetch', input);
    return origFetch.call(this, input, init);
  };
  const origOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    note(`xhr ${method}`, url);
    return origOpen.call(this, method, url, ...rest);
  };
  if (navigator.sendBeacon) {
    const origBeacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (url, data) => {
      note('beacon', url);
      return origBeacon(url, data);
    };
  }
  for (const name of ['WebSocket', 'EventSource', 'Worker', 'SharedWorker']) {
    const Orig = window[name];
    if (!Orig) continue;
    window[name] = new Proxy(Orig, {
      construct(target, args) {
        note(name, args[0]);
        return Reflect.construct(target, args);
      },
    });
  }
  const origOpenWindow = window.open;
  window.open = function (url, ...rest) {
    note('window.open', url);
    return origOpenWindow.call(this, url, ...rest);
  };
}

test('loading, training and recommending make no request beyond the page\'s origin', { timeout: 420_000 }, async (t) => {
  shared ??= (async () => ({ server: await startServer(distDir()), browser: await launchBrowser() }))();
  const { server, browser } = await shared;
  const name = 'privacy';
  rmSync(path.join(SCREENSHOTS, `${name}-failure.png`), { force: true });
  const rec = await openRecordedPage(browser, server.origin);
  const { page, context } = rec;
  context.setDefaultTimeout(WAIT);
  await context.addInitScript(recordNetworkCalls);
  const requests = [];
  let phase = 'page load';
  context.on('request', (req) =>
    requests.push({ url: req.url(), method: req.method(), type: req.resourceType(), body: req.postData(), phase }),
  );
  const failFast = () => (rec.problems.pageErrors.length ? `uncaught error: ${rec.problems.pageErrors[0]}` : null);
  const wait = (what, probe, opts = {}) => waitUntil(what, probe, { timeout: WAIT, failFast, ...opts });
  try {
    await page.goto(server.url('/'), { waitUntil: 'load' });
    await wait('the app to mount', async () => (await page.locator(sel('ratings-file')).count()) > 0);
    await wait('the workers to start', async () => page.workers().length > 0);
    await page.waitForTimeout(500);

    // The visitor's files: every user id, item id and title carries the marker.
    phase = 'loading';
    const data = plantedRatings({ seed: 5, nUsers: 200, nItems: 120, nRatings: 5000, rank: 3 });
    const csv = data.csv.replace(/\b([ui])(\d+)\b/g, `$1$2-${MARKER}`);
    await page.locator(sel('ratings-file')).setInputFiles({ name: `${MARKER}.csv`, mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await wait('the summary', async () => ((await testIdText(page, 'dataset-summary')) ?? '').includes(`${MARKER}.csv`));
    const meta = ['movieId,title,genres', ...[...data.items].map((i) => `${i}-${MARKER},Film ${i} ${MARKER},Drama|${MARKER}`)];
    await page.locator(sel('metadata-file')).setInputFiles({ name: 'movies.csv', mimeType: 'text/csv', buffer: Buffer.from(meta.join('\n')) });
    await wait('the metadata notice', async () => /titles and categories for 120 rated items/.test((await testIdText(page, 'data-notice')) ?? ''));

    // Cross-validated training on every worker, then the final fit.
    phase = 'training';
    const cv = page.locator(sel('cv-enabled'));
    if (!(await cv.isChecked())) await cv.check();
    await page.locator(sel('cv-ranks')).fill('3, 6');
    await page.locator(sel('cv-reg-params')).fill('0.1');
    await page.locator(sel('cv-max-iters')).fill('5');
    await page.locator(sel('cv-folds')).fill('2');
    await page.locator(sel('train')).click();
    await wait('a test RMSE', async () => {
      const text = await testIdText(page, 'test-rmse');
      return { done: text != null && numbersIn(text).some(Number.isFinite), seen: JSON.stringify(text) };
    });

    // Recommendations, their explanation, similar titles.
    phase = 'recommending';
    const user = `u1-${MARKER}`;
    await page.locator(sel('user-id')).fill(user);
    await page.locator(sel('user-id')).press('Enter');
    await wait('recommendations', async () => (await page.locator(sel('rec-row')).count()) > 0);
    await page.locator(sel('why')).first().click();
    await wait('an explanation', async () => (await page.locator(sel('why-row')).count()) > 0);
    await page.locator(sel('rec-similar')).first().click();
    await page.locator(sel('similar-show')).click();
    await wait('similar titles', async () => (await page.locator(sel('similar-row')).count()) > 0);
    const firstTitle = await page.locator(sel('rec-title')).first().textContent();
    assert.ok(firstTitle.includes(MARKER), `titles come from the visitor's metadata: ${firstTitle}`);
    await page.waitForTimeout(1000);
    phase = 'done';

    // 1. Playwright's record: only GETs of the site's own files, without query or body.
    t.diagnostic(`${requests.length} requests: ${[...new Set(requests.map((r) => `${r.phase}: ${new URL(r.url).pathname}`))].join(', ')}`);
    assert.ok(requests.length > 0, 'requests were recorded at all');
    const dist = distDir();
    for (const r of requests) {
      const u = new URL(r.url);
      assert.equal(u.origin, server.origin, `a request beyond the page's origin: ${r.method} ${r.url} (${r.type}, ${r.phase})`);
      assert.equal(r.method, 'GET', `only GETs: ${r.method} ${r.url}`);
      assert.equal(r.body ?? null, null, `no request body: ${r.url}`);
      assert.equal(u.search, '', `no query string: ${r.url}`);
      assert.ok(!decodeURIComponent(r.url).includes(MARKER), `the visitor's data in a request: ${r.url}`);
      const file = path.join(dist, decodeURIComponent(u.pathname));
      const known = u.pathname === '/' || u.pathname === '/favicon.ico' || (existsSync(file) && statSync(file).isFile());
      assert.ok(known, `a request for something that is not a file of the site: ${r.url}`);
    }
    // Once the page has loaded, only workers' own files may be fetched (a replaced worker).
    const late = requests.filter((r) => r.phase !== 'page load').map((r) => new URL(r.url).pathname);
    for (const p of late) assert.match(p, /^\/(worker-loader\.js|worker-build\.js|worker(_relaxed)?\.js|worker(_relaxed)?_bg\.wasm)$/, `a request while ${p}`);
    assert.ok(!requests.some((r) => ['fetch', 'xhr', 'websocket', 'eventsource', 'ping'].includes(r.type) && !/\.wasm$/.test(r.url)), `no fetch/XHR/beacon/socket beyond the wasm: ${JSON.stringify(requests.filter((r) => r.type === 'fetch' || r.type === 'xhr'))}`);

    // 2. The server's log agrees: GET or HEAD of the site's files only.
    for (const line of server.log) assert.match(line, /^(GET|HEAD) \/[^?\s]* -> (200|304|404)$/, `server saw: ${line}`);
    assert.ok(!server.log.some((l) => l.includes(MARKER)), 'the server never saw the visitor\'s data');

    // 3. The page's own network APIs: the wasm fetches and the worker scripts, all local.
    const calls = await page.evaluate(() => window.__netCalls);
    t.diagnostic(`network API calls in the page: ${calls.map((c) => `${c.api} ${c.url}`).join(', ')}`);
    for (const c of calls) {
      const u = new URL(c.url, server.origin);
      assert.equal(u.origin, server.origin, `${c.api} beyond the origin: ${c.url}`);
      assert.ok(!['beacon', 'WebSocket', 'EventSource', 'window.open'].includes(c.api), `unexpected ${c.api} ${c.url}`);
      assert.ok(!c.url.includes(MARKER), `${c.api} carried the visitor's data: ${c.url}`);
    }

    // 4. And the harness: no foreign request was even attempted, nothing failed.
    await page.waitForTimeout(250);
    rec.assertClean();
  } catch (err) {
    const parts = [rec.problemReport() || 'Recorded problems: none'];
    if (!page.isClosed()) {
      parts.push((await pageText(page)).slice(0, 3000));
      try {
        mkdirSync(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-failure.png`), fullPage: true });
      } catch {
        // no screenshot
      }
    }
    parts.push(`Requests:\n  ${requests.map((r) => `${r.phase}: ${r.method} ${r.url} (${r.type})`).join('\n  ')}`);
    err.message = `${err.message}\n\n${parts.join('\n')}`;
    throw err;
  } finally {
    await context.close().catch(() => {});
  }
});
