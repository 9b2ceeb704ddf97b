// End-to-end tests of the library (IndexedDB), resuming after a reload, offline use through
// the service worker, and storage failures, in headless Chromium.
//
//   AFFINITY_DIST=dist node --test tests/e2e/storage.test.mjs
//
// The harness's openRecordedPage blocks service workers (the other tests must not depend on
// a cache), so this file opens its own contexts with service workers allowed, and records
// the same things that must not happen: page errors, console errors, failed or external
// requests, error responses.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  REPO_ROOT,
  distDir,
  startServer,
  launchBrowser,
  isAllowedUrl,
  pageText,
  waitUntil,
  testIdText,
  numbersIn,
  plantedRatings,
} from './harness.mjs';

const WAIT = 120_000;
const TEST_TIMEOUT = 420_000;
const SCREENSHOTS = path.join(REPO_ROOT, 'target', 'e2e-screenshots');
const sel = (id) => `[data-testid="${id}"]`;

let browserPromise;
function browser() {
  browserPromise ??= launchBrowser();
  return browserPromise;
}
after(async () => {
  if (browserPromise) await (await browserPromise).close().catch(() => {});
});

/** A context with service workers allowed, recording what must not happen. */
async function openApp(server, { initScript, offlineOk = () => false } = {}) {
  const b = await browser();
  const context = await b.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: 'allow' });
  context.setDefaultTimeout(WAIT);
  const problems = [];
  await context.route(
    (url) => !isAllowedUrl(url.href, server.origin),
    (route) => {
      problems.push(`external request ${route.request().url()}`);
      return route.abort('blockedbyclient');
    },
  );
  context.on('requestfailed', (req) => {
    if (!offlineOk(req)) problems.push(`failed request ${req.url()}: ${req.failure()?.errorText}`);
  });
  context.on('response', (resp) => {
    if (resp.status() >= 400 && new URL(resp.url()).pathname !== '/favicon.ico') problems.push(`${resp.status()} ${resp.url()}`);
  });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  const failFast = () => problems.find((p) => p.startsWith('page error')) ?? null;
  const wait = (what, probe) => waitUntil(what, probe, { timeout: WAIT, failFast });
  const app = { context, page, problems, wait, server };
  app.mounted = () => wait('the app to mount', async () => (await page.locator(sel('ratings-file')).count()) > 0);
  app.clean = () => assert.deepEqual(problems, [], `the page did something it must not:\n${problems.join('\n')}`);
  return app;
}

async function withApp(t, name, server, opts, body) {
  const app = await openApp(server, opts);
  try {
    await body(app);
    await app.page.waitForTimeout(250);
    app.clean();
  } catch (err) {
    const text = app.page.isClosed() ? '' : await pageText(app.page);
    if (!app.page.isClosed()) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await app.page.screenshot({ path: path.join(SCREENSHOTS, `${name}-failure.png`), fullPage: true }).catch(() => {});
    }
    err.message += `\n\nRecorded: ${app.problems.join('\n') || 'nothing'}\nPage text:\n${text.slice(0, 5000)}\nServer log:\n  ${server.log.slice(-20).join('\n  ')}`;
    throw err;
  } finally {
    await app.context.close().catch(() => {});
  }
}

function csvFile(t, name, data) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'affinity-storage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  writeFileSync(file, data.csv);
  return file;
}

async function waitForCounts({ page, wait }, expected) {
  return wait(`the summary to show ${expected.join(' / ')}`, async () => {
    const text = await testIdText(page, 'dataset-summary');
    const nums = text ? numbersIn(text) : [];
    return { done: expected.every((n) => nums.includes(n)), value: text, seen: JSON.stringify(text) };
  });
}

/** The library rows as [{ kind, name, details }]. */
async function libraryRows(page) {
  return page.$$eval('[data-testid="library-row"]', (rows) =>
    rows.map((r) => ({
      kind: r.dataset.kind,
      name: r.querySelector('[data-testid="library-name"]')?.innerText.trim() ?? '',
      details: r.querySelector('[data-testid="library-details"]')?.innerText.trim() ?? r.innerText.trim(),
    })),
  );
}

async function waitForLibrary({ page, wait }, what, ok) {
  return wait(`the library to show ${what}`, async () => {
    const rows = await libraryRows(page);
    return { done: ok(rows), value: rows, seen: JSON.stringify(rows) };
  });
}

async function recommend({ page, wait }, user) {
  await wait('the Recommend button to be enabled', () => page.locator(sel('recommend')).isEnabled());
  await page.locator(sel('user-id')).fill(user);
  await page.locator(sel('user-id')).press('Enter');
  return wait(`10 recommendations for ${user}`, async () => {
    const rows = await page.$$eval('[data-testid="rec-row"]', (rs) =>
      rs.map((r) => `${r.querySelector('[data-testid="rec-title"]')?.innerText.trim()}=${r.querySelector('[data-testid="rec-score"]')?.innerText.trim()}`),
    );
    return { done: rows.length === 10, value: rows, seen: JSON.stringify(rows) };
  });
}

async function shot(page, locator, file) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.locator(locator).screenshot({ path: path.join(SCREENSHOTS, file) });
}

test('upload, train, reload: the model is back and recommends; offline, the page still loads', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startServer(distDir());
  let serverOpen = true;
  t.after(async () => {
    if (serverOpen) await server.close();
  });
  // Once offline, requests the service worker does not answer fail by design.
  let offline = false;
  await withApp(t, 'storage-resume', server, { offlineOk: () => offline }, async (app) => {
    const { page, wait, context } = app;
    const data = plantedRatings({ seed: 7, nUsers: 150, nItems: 120, nRatings: 4000, rank: 3 });
    await page.goto(server.url('/'));
    await app.mounted();
    await page.locator(sel('ratings-file')).setInputFiles(csvFile(t, 'planted.csv', data));
    const counts = [data.nRatings, data.users.size, data.items.size];
    await waitForCounts(app, counts);
    await page.locator(sel('cv-ranks')).fill('4, 8');
    await page.locator(sel('cv-reg-params')).fill('0.1');
    await page.locator(sel('cv-folds')).fill('2');
    await page.locator(sel('train')).click();
    const rmseText = await wait('a test RMSE', async () => {
      const s = await testIdText(page, 'test-rmse');
      return { done: s != null && numbersIn(s).length > 0, value: s, seen: JSON.stringify(s) };
    });
    const user = [...data.ratedBy.keys()].find((u) => data.ratedBy.get(u).size >= 25);
    const before = await recommend(app, user);
    await waitForLibrary(app, 'the dataset, the model and a finished run', (rows) =>
      rows.some((r) => r.kind === 'dataset' && r.details.includes(data.nRatings.toLocaleString('en-US'))) &&
      rows.some((r) => r.kind === 'model') &&
      rows.some((r) => r.kind === 'run' && /^done/.test(r.details)),
    );
    // A file's ratings are stored as the Blob the reading worker made, and the model as the
    // Blob its encoding worker made, not as bytes copied on the page's thread; the reload
    // below reads them back.
    const storedKinds = await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('affinity');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            const store = db.transaction('blobs', 'readonly').objectStore('blobs');
            const kinds = [];
            const cursor = store.openCursor();
            cursor.onsuccess = () => {
              const c = cursor.result;
              if (!c) {
                db.close();
                resolve(kinds);
                return;
              }
              const part = String(c.key).split('/').pop();
              if (part === 'ratings' || part === 'model') kinds.push(`${part}: ${c.value instanceof Blob ? 'Blob' : c.value?.constructor?.name}`);
              c.continue();
            };
            cursor.onerror = () => reject(cursor.error);
          };
        }),
    );
    assert.deepEqual(
      storedKinds.sort(),
      ['model: Blob', 'ratings: Blob'],
      `the stored ratings and model are not one Blob each: ${JSON.stringify(storedKinds)}`,
    );
    await shot(page, sel('library'), 'library-after-training.png');
    // The service worker has cached the files once it controls the page.
    await wait('the service worker to control the page', () => page.evaluate(() => !!navigator.serviceWorker?.controller));

    // Reload: the dataset and the model come back without training.
    const fitsBefore = server.log.length;
    await page.reload();
    await app.mounted();
    await waitForCounts(app, counts);
    const rmseAfter = await wait('the restored test RMSE', async () => {
      const s = await testIdText(page, 'test-rmse');
      return { done: s != null && numbersIn(s).length > 0, value: s, seen: JSON.stringify(s) };
    });
    assert.equal(rmseAfter, rmseText, 'the restored model reports other scores than the trained one');
    const after = await recommend(app, user);
    assert.deepEqual(after, before, 'the restored model recommends differently');
    const status = (await testIdText(page, 'train-status')) ?? '';
    assert.match(status, /Model ready/, `after the reload the model is not ready without training: ${status}`);
    const rows = await libraryRows(page);
    assert.equal(rows.filter((r) => r.kind === 'run').length, 1, `a second run was recorded: ${JSON.stringify(rows)}`);
    t.diagnostic(`requests for the reload: ${server.log.length - fitsBefore}`);

    // Offline: no network at all (the server is gone too), reload, and the app still works.
    offline = true;
    await context.setOffline(true);
    await server.close();
    serverOpen = false;
    await page.reload();
    await app.mounted();
    await waitForCounts(app, counts);
    const offlineRows = await recommend(app, user);
    assert.deepEqual(offlineRows, before, 'offline, the restored model recommends differently');
    await shot(page, 'body', 'storage-offline-page.png');
  });
});

test('a full storage is reported and earlier records stay intact', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startServer(distDir());
  t.after(() => server.close());
  await withApp(t, 'storage-quota', server, {}, async (app) => {
    const { page, wait } = app;
    await page.goto(server.url('/'));
    await app.mounted();
    await page.locator(sel('load-demo')).click();
    await waitForLibrary(app, 'the demo dataset', (rows) => rows.some((r) => r.kind === 'dataset' && r.name === 'Demo catalog'));
    // Leave the origin a few kilobytes more than it uses: the next dataset cannot fit. The
    // CDP command Storage.overrideQuotaForOrigin did not change what navigator.storage.estimate()
    // reports in this Chromium, so the small quota is simulated where the app reads it.
    await page.evaluate(async () => {
      const { usage } = await navigator.storage.estimate();
      navigator.storage.estimate = async () => ({ usage, quota: usage + 8 * 1024 });
    });
    const data = plantedRatings({ seed: 11, nUsers: 300, nItems: 200, nRatings: 9000, rank: 3 });
    await page.locator(sel('ratings-file')).setInputFiles(csvFile(t, 'big.csv', data));
    await waitForCounts(app, [data.nRatings]);
    const message = await wait('the storage message', async () => {
      const s = await testIdText(page, 'storage-message');
      return { done: !!s && /full/i.test(s), value: s, seen: JSON.stringify(s) };
    });
    assert.match(message, /big\.csv/, 'the message does not say what was not saved');
    assert.match(message, /intact/, 'the message does not say earlier records are intact');
    await shot(page, sel('library'), 'library-quota.png');
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'storage-quota-page.png') });
    const rows = await libraryRows(page);
    assert.deepEqual(rows.filter((r) => r.kind === 'dataset').map((r) => r.name), ['Demo catalog']);
    // The dataset is usable in memory: the summary shows it (checked above).

    // After a reload the earlier dataset is what comes back.
    await page.reload();
    await app.mounted();
    await wait('the demo dataset to come back', async () => {
      const s = await testIdText(page, 'dataset-summary');
      return { done: !!s && s.includes('Demo catalog'), seen: JSON.stringify(s) };
    });
    await waitForLibrary(app, 'only the demo dataset', (rs) => rs.filter((r) => r.kind === 'dataset').length === 1);
  });
});

test('a run interrupted by a reload is shown as interrupted', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startServer(distDir());
  t.after(() => server.close());
  await withApp(t, 'storage-interrupted', server, {}, async (app) => {
    const { page, wait } = app;
    await page.goto(server.url('/'));
    await app.mounted();
    await page.locator(sel('load-demo')).click();
    await waitForLibrary(app, 'the demo dataset', (rows) => rows.some((r) => r.kind === 'dataset'));
    await page.locator(sel('cv-ranks')).fill('10, 20, 30, 40');
    await page.locator(sel('cv-max-iters')).fill('20');
    await page.locator(sel('cv-folds')).fill('5');
    await page.locator(sel('train')).click();
    const running = await waitForLibrary(app, 'a running run', (rows) => rows.some((r) => r.kind === 'run' && /^running/.test(r.details)));
    // The record is written once, a second into the run; the progress of that moment would be
    // stale by now, so the row says only that it runs and how many fits it planned.
    const runningRow = running.find((r) => r.kind === 'run').details;
    assert.match(runningRow, /^running · \d+ fits$/, `the running run's row: ${runningRow}`);
    await page.reload();
    await app.mounted();
    const rows = await waitForLibrary(app, 'the run marked interrupted', (rs) => rs.some((r) => r.kind === 'run' && /^interrupted/.test(r.details)));
    const interruptedRow = rows.find((r) => r.kind === 'run').details;
    assert.match(interruptedRow, /^interrupted · \d+ fits$/, `the interrupted run's row: ${interruptedRow}`);
    assert.ok(!rows.some((r) => r.kind === 'model'), `a model was stored for an interrupted run: ${JSON.stringify(rows)}`);
    await shot(page, sel('library'), 'library-interrupted.png');
  });
});

test('without IndexedDB (a private window) the app says so and works in memory', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startServer(distDir());
  t.after(() => server.close());
  const initScript = () => {
    Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true });
  };
  await withApp(t, 'storage-unavailable', server, { initScript }, async (app) => {
    const { page, wait } = app;
    await page.goto(server.url('/'));
    await app.mounted();
    const message = await wait('the storage message', async () => {
      const s = await testIdText(page, 'storage-message');
      return { done: !!s && s.length > 0, value: s, seen: JSON.stringify(s) };
    });
    assert.match(message, /Nothing will be kept/);
    await page.locator(sel('load-demo')).click();
    await wait('the demo summary', async () => ((await testIdText(page, 'dataset-summary')) ?? '').includes('Demo catalog'));
    assert.match((await testIdText(page, 'storage-usage')) ?? '', /unavailable/i);
  });
});

test('a damaged stored dataset is reported, not loaded, and can be deleted', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startServer(distDir());
  t.after(() => server.close());
  await withApp(t, 'storage-corrupt', server, {}, async (app) => {
    const { page, wait } = app;
    await page.goto(server.url('/'));
    await app.mounted();
    await page.locator(sel('load-demo')).click();
    await waitForLibrary(app, 'the demo dataset', (rows) => rows.some((r) => r.kind === 'dataset'));
    // Damage the ratings blob in place, as a disk error or a buggy extension might.
    await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('affinity');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            const tx = db.transaction('blobs', 'readwrite');
            const store = tx.objectStore('blobs');
            const keys = store.getAllKeys();
            keys.onsuccess = () => {
              for (const k of keys.result) if (String(k).endsWith('/ratings')) store.put(new Uint8Array([65, 70, 70, 68, 1, 0, 9, 9]), k);
            };
            tx.oncomplete = () => {
              db.close();
              resolve();
            };
            tx.onerror = () => reject(tx.error);
          };
        }),
    );
    await page.reload();
    await app.mounted();
    const message = await wait('the damaged-record message', async () => {
      const s = await testIdText(page, 'storage-message');
      return { done: !!s && /damaged/.test(s), value: s, seen: JSON.stringify(s) };
    });
    assert.match(message, /Demo catalog/);
    assert.equal(await testIdText(page, 'dataset-summary'), null, 'a damaged dataset was loaded');
    await page.locator(`${sel('library-row')}[data-kind="dataset"] ${sel('library-delete')}`).click();
    await waitForLibrary(app, 'no dataset', (rows) => !rows.some((r) => r.kind === 'dataset'));
    // The app still works.
    await page.locator(sel('load-demo')).click();
    await waitForLibrary(app, 'the demo dataset stored again', (rows) => rows.some((r) => r.kind === 'dataset'));
  });
});
