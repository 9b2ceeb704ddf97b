// Same seed, same data, same parameters: identical factors in the browser and natively.
//
//   AFFINITY_DIST=dist node --test tests/e2e/parity.test.mjs
//
// The built page (wasm, simd128, one Web Worker thread) and the native CLI (x86-64, AVX2 when
// the processor has it, one thread per core) fit the same generated ratings file with the same
// split and parameters; the model the page exports (affinity-model.affm) must hold the same
// factors, biases and fitted flags as `affinity fit --split` writes, bit for bit, for every user
// and item id. The jobs differ in split fraction and seed and run one after another on one
// loaded file: the page's workers keep only the parts of their latest split, so each job after
// the first rebuilds the whole file from those parts (`split::rejoin`) before splitting it
// anew, and a rebuilt file in another order would show here as a different model. The CLI
// is $AFFINITY_BIN, else it is built with `cargo build --release -p affinity-cli` (into
// $CARGO_TARGET_DIR, else <repo>/target).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  siteWithoutRelaxedSimd,
  recordDownloads,
} from './harness.mjs';
import { JOBS, decodeModel, differences } from './model_parity.mjs';

const WAIT = 120_000;
const TEST_TIMEOUT = 900_000;
const SCREENSHOTS = path.join(REPO_ROOT, 'target', 'e2e-screenshots');
const sel = (id) => `[data-testid="${id}"]`;

const setup = sharedSite();

/** The native CLI: $AFFINITY_BIN, else built (incrementally) by cargo. */
let cliPath;
function cli() {
  if (cliPath) return cliPath;
  if (process.env.AFFINITY_BIN) return (cliPath = path.resolve(process.env.AFFINITY_BIN));
  execFileSync('cargo', ['build', '--release', '-q', '-p', 'affinity-cli'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const target = process.env.CARGO_TARGET_DIR ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : path.join(REPO_ROOT, 'target');
  return (cliPath = path.join(target, 'release', 'affinity'));
}

/** Opens the page with downloads recorded (object URLs keep their Blob). */
async function openApp(browser, server) {
  const rec = await openRecordedPage(browser, server.origin, { viewport: { width: 1280, height: 900 } });
  rec.context.setDefaultTimeout(WAIT);
  await rec.page.addInitScript(recordDownloads);
  return rec;
}

async function setCheck(page, id, on) {
  const box = page.locator(sel(id));
  if ((await box.isChecked()) !== on) await (on ? box.check() : box.uncheck());
}

/** Fits `job` in the page on the loaded file and returns the exported model's bytes. */
async function fitInPage({ page, wait }, job, nthDownload) {
  const f = job.form;
  await setCheck(page, 'cv-enabled', false);
  await setCheck(page, 'param-implicit', Boolean(f.implicit));
  if (f.implicit) await page.locator(sel('param-alpha')).fill(f.alpha);
  await setCheck(page, 'param-biases', Boolean(f.biases));
  await setCheck(page, 'param-nonnegative', Boolean(f.nonnegative));
  await setCheck(page, 'param-cg', Boolean(f.cg));
  await page.locator(sel('param-rank')).fill(f.rank);
  await page.locator(sel('param-max-iter')).fill(f.iters);
  await page.locator(sel('param-reg-param')).fill(f.reg);
  await page.locator(sel('param-split')).fill(f.split);
  await page.locator(sel('param-seed')).fill(f.seed);
  await page.locator(sel('train')).click();
  await wait(`the fit of ${job.name} to finish`, async () => {
    const status = await testIdText(page, 'train-status');
    const rmse = await testIdText(page, 'test-rmse');
    const hint = await page.locator('.score .hint').first().innerText().catch(() => '');
    const err = await testIdText(page, 'error');
    return {
      done: rmse != null && numbersIn(rmse).some(Number.isFinite) && hint.includes(`rank ${f.rank}`) && !/Fit \d+ of/.test(status ?? ''),
      seen: `status ${JSON.stringify(status)}, test-rmse ${JSON.stringify(rmse)}, hint ${JSON.stringify(hint)}, error ${JSON.stringify(err)}`,
    };
  });
  await page.locator(sel('export-model')).click();
  await wait(`download #${nthDownload + 1}`, async () => (await page.evaluate(() => window.__e2eDownloads.length)) > nthDownload);
  const got = await page.evaluate(async (i) => {
    const d = window.__e2eDownloads[i];
    const blob = window.__e2eBlobs.get(d.href);
    return { name: d.name, bytes: blob ? [...new Uint8Array(await blob.arrayBuffer())] : null };
  }, nthDownload);
  assert.equal(got.name, 'affinity-model.affm');
  assert.ok(got.bytes, 'the exported model blob was recorded');
  return Buffer.from(got.bytes);
}

/**
 * Fits every job of JOBS in the page served by `server` and with the CLI (run with `cliEnv`
 * added to its environment), and asserts the two models are the same to the byte. The page's
 * workers must have loaded the build `workerBuild` (see static/worker-build.js).
 */
async function checkParity(t, { server, browser, cliEnv, workerBuild, label }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'affinity-parity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Non-negative ratings (the implicit job reads them as counts), some users and items with
  // few ratings so that the split leaves a few unfitted.
  const data = plantedRatings({ seed: 4242, nUsers: 500, nItems: 300, nRatings: 12_000, rank: 4 });
  const ratingsFile = path.join(dir, 'ratings.csv');
  writeFileSync(ratingsFile, data.csv);
  const bin = cli();
  const runCli = (args) => execFileSync(bin, args, { encoding: 'utf8', env: { ...process.env, ...cliEnv } });

  const rec = await openApp(browser, server);
  const { page } = rec;
  const failFast = () => (rec.problems.pageErrors.length ? `uncaught error in the page: ${rec.problems.pageErrors[0]}` : null);
  const wait = (what, probe, opts = {}) => waitUntil(what, probe, { timeout: WAIT, failFast, ...opts });
  const app = { page, wait };
  const from = server.log.length;
  try {
    await page.goto(server.url('/'), { waitUntil: 'load' });
    await wait('the app to mount', async () => (await page.locator(sel('ratings-file')).count()) > 0);
    await page.locator(sel('ratings-file')).setInputFiles(ratingsFile);
    await wait(`${data.nRatings} ratings in the summary`, async () => {
      const text = await testIdText(page, 'dataset-summary');
      return { done: numbersIn((text ?? '').replace(/,/g, '')).includes(data.nRatings), seen: JSON.stringify(text) };
    });
    for (const [k, job] of JOBS.entries()) {
      const webBytes = await fitInPage(app, job, k);
      const nativeFile = path.join(dir, `native-${k}.affm`);
      const report = JSON.parse(runCli(['fit', '--ratings', ratingsFile, ...job.flags, '--out', nativeFile, '--json']));
      const nativeBytes = readFileSync(nativeFile);
      const web = decodeModel(webBytes);
      const native = decodeModel(nativeBytes);
      const diff = differences(web, native);
      const nFitted = [...web.users.values()].filter((r) => r.fitted).length;
      const nonzero = [...web.items.values()].some((r) => r.factors.some((v) => (v & 0x7fffffff) !== 0));
      t.diagnostic(
        `${label}, ${job.name}: ${report.n_ratings} training ratings, ${web.users.size} users (${nFitted} fitted), ` +
          `${web.items.size} items, ${webBytes.length} bytes; ${diff.count} differences`,
      );
      assert.ok(nonzero && nFitted > 100, `${job.name}: the page fitted real factors`);
      assert.equal(web.rank, Number(job.form.rank), `${job.name}: the page fitted the typed rank`);
      assert.equal(diff.count, 0, `${label}, ${job.name}: page vs native differ in ${diff.count} values:\n  ${diff.listed.join('\n  ')}`);
      assert.ok(webBytes.equals(nativeBytes), `${job.name}: the two model files differ byte for byte`);
    }
    // The workers that fitted were the build under test.
    const wasm = [...new Set(server.log.slice(from).map((l) => l.match(/^GET \/(worker\w*_bg\.wasm) /)?.[1]).filter(Boolean))];
    assert.deepEqual(wasm, [`${workerBuild}_bg.wasm`], `the workers' wasm fetched: ${wasm.join(', ')}`);
    // The comparison has teeth: another seed gives other factors.
    const other = path.join(dir, 'other-seed.affm');
    const flags = JOBS[0].flags.map((f, i, all) => (all[i - 1] === '--seed' ? '43' : f));
    runCli(['fit', '--ratings', ratingsFile, ...flags, '--out', other, '--json']);
    const again = path.join(dir, 'again.affm');
    runCli(['fit', '--ratings', ratingsFile, ...JOBS[0].flags, '--out', again, '--json']);
    assert.ok(differences(decodeModel(readFileSync(other)), decodeModel(readFileSync(again))).count > 0, 'seed 43 differs from seed 42');
    await page.waitForTimeout(250);
    rec.assertClean();
  } catch (err) {
    const parts = [`Recorded problems:\n${rec.problemReport() || 'none'}`];
    if (!page.isClosed()) {
      const text = await pageText(page);
      parts.push(`Page text:\n${text.length > 4000 ? text.slice(0, 4000) + '\n…(cut)' : text}`);
      try {
        mkdirSync(SCREENSHOTS, { recursive: true });
        const shot = path.join(SCREENSHOTS, `parity-failure-${workerBuild}.png`);
        await page.screenshot({ path: shot, fullPage: true, timeout: 10_000 });
        parts.push(`Screenshot: ${shot}`);
      } catch (e) {
        parts.push(`(no screenshot: ${e.message})`);
      }
    }
    err.message = `${err.message}\n\n${parts.join('\n')}`;
    throw err;
  } finally {
    await rec.context.close().catch(() => {});
  }
}

test('the page (wasm) and the native CLI fit bit-identical factors from the same seed, data and parameters', { timeout: TEST_TIMEOUT }, async (t) => {
  // Chromium has relaxed SIMD: its workers and the CLI (on a processor with AVX2 and FMA)
  // both fuse the Gram kernel's multiply-adds.
  const { server, browser } = await setup();
  await checkParity(t, { server, browser, cliEnv: {}, workerBuild: 'worker_relaxed', label: 'fused' });
});

test('the worker for browsers without relaxed SIMD fits the same factors as the CLI with unfused 128-bit lanes', { timeout: TEST_TIMEOUT }, async (t) => {
  const plain = await siteWithoutRelaxedSimd();
  t.after(() => plain.close());
  const { browser } = await setup();
  await checkParity(t, { server: plain.server, browser, cliEnv: { AFFINITY_LANES: '128' }, workerBuild: 'worker', label: 'unfused' });
});

test('a file of more than 2^21 ratings, taken into the page and sent to a worker a slice at a time, fits the CLI\'s model bit for bit', { timeout: TEST_TIMEOUT }, async (t) => {
  // src/copy_in_tasks.rs copies columns 2^21 values per task: a misplaced slice changes the
  // ratings the worker fits, and with them the model.
  const { server, browser } = await setup();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'affinity-slices-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ratingsFile = path.join(dir, 'ratings.csv');
  execFileSync(cli(), ['gen', '--users', '20000', '--items', '30000', '--ratings', '2400000', '--seed', '9', '--out', ratingsFile]);
  const job = {
    name: 'explicit, rank 4',
    form: { rank: '4', iters: '3', reg: '0.1', split: '80', seed: '42', biases: false },
    flags: ['--rank', '4', '--max-iter', '3', '--reg-param', '0.1', '--split', '0.8', '--seed', '42'],
  };
  const rec = await openApp(browser, server);
  const { page } = rec;
  const failFast = () => (rec.problems.pageErrors.length ? `uncaught error in the page: ${rec.problems.pageErrors[0]}` : null);
  const wait = (what, probe, opts = {}) => waitUntil(what, probe, { timeout: WAIT, failFast, ...opts });
  try {
    await page.goto(server.url('/'), { waitUntil: 'load' });
    await wait('the app to mount', async () => (await page.locator(sel('ratings-file')).count()) > 0);
    await page.locator(sel('ratings-file')).setInputFiles(ratingsFile);
    const n = await wait('the summary', async () => {
      const text = (await testIdText(page, 'dataset-summary')) ?? '';
      const m = text.replace(/,/g, '').match(/Ratings\s*(\d+)/);
      return { done: Boolean(m), value: m && Number(m[1]), seen: JSON.stringify(text) };
    });
    assert.ok(n > 2 ** 21, `the file holds ${n} distinct ratings, not more than one slice`);
    const webBytes = await fitInPage({ page, wait }, job, 0);
    const nativeFile = path.join(dir, 'native.affm');
    const report = JSON.parse(execFileSync(cli(), ['fit', '--ratings', ratingsFile, ...job.flags, '--out', nativeFile, '--json'], { encoding: 'utf8' }));
    const nativeBytes = readFileSync(nativeFile);
    const diff = differences(decodeModel(webBytes), decodeModel(nativeBytes));
    t.diagnostic(`${n} ratings, ${report.n_ratings} training ratings; ${diff.count} differences`);
    assert.equal(diff.count, 0, `page vs native differ in ${diff.count} values:\n  ${diff.listed.join('\n  ')}`);
    assert.ok(webBytes.equals(nativeBytes), 'the two model files differ byte for byte');
    rec.assertClean();
  } finally {
    await rec.context.close().catch(() => {});
  }
});
