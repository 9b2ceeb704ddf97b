// Helpers for the end-to-end browser tests: a static file server for the built site,
// a headless Chromium launcher, a recorder of everything that must not happen
// (page errors, console errors, failed or external requests), polling helpers and a
// seeded PRNG. No test lives here: app.test.mjs imports it.

import { after } from 'node:test';
import { createServer } from 'node:http';
import { cpSync, createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** Root of the repository (tests/e2e/../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The built site: $AFFINITY_DIST (relative paths are taken from the current directory), else <repo>/dist. */
export function distDir() {
  const fromEnv = process.env.AFFINITY_DIST;
  return fromEnv ? path.resolve(fromEnv) : path.join(REPO_ROOT, 'dist');
}

/** Chromium binary: $CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.tsv': 'text/tab-separated-values; charset=utf-8',
  '.dat': 'text/plain; charset=utf-8',
  '.data': 'text/plain; charset=utf-8',
};

export function mimeType(file) {
  return MIME[path.extname(file).toLowerCase()] || 'application/octet-stream';
}

/**
 * Throws (never skips) when `dir` is not a built site with an index.html.
 */
export function assertBuiltSite(dir) {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(
      `The built site directory ${dir} does not exist. Build the app first (trunk build --release) ` +
        `or point AFFINITY_DIST at the built site.`,
    );
  }
  if (!existsSync(path.join(dir, 'index.html'))) {
    throw new Error(`${dir} has no index.html: it is not a built site (set AFFINITY_DIST to the right directory).`);
  }
}

/**
 * Serves `root` on 127.0.0.1 at a free port. Resolves to { origin, url(path), close(), log }.
 * GET and HEAD only; `/` and directories serve their index.html; anything else missing is a 404.
 */
export async function startServer(root) {
  root = path.resolve(root);
  assertBuiltSite(root);
  const log = [];
  const server = createServer((req, res) => {
    const send = (status, body, headers = {}) => {
      log.push(`${req.method} ${req.url} -> ${status}`);
      res.writeHead(status, { 'Cache-Control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(405, 'method not allowed\n', { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
    }
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    } catch {
      return send(400, 'bad request\n', { 'Content-Type': 'text/plain' });
    }
    let file = path.join(root, pathname);
    if (file !== root && !file.startsWith(root + path.sep)) {
      return send(403, 'forbidden\n', { 'Content-Type': 'text/plain' });
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) {
      return send(404, `not found: ${pathname}\n`, { 'Content-Type': 'text/plain' });
    }
    const size = statSync(file).size;
    log.push(`${req.method} ${req.url} -> 200`);
    res.writeHead(200, {
      'Content-Type': mimeType(file),
      'Content-Length': size,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    root,
    log,
    url: (p = '/') => origin + p,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** Launches headless Chromium; fails with a clear message when the binary is missing. */
/**
 * The built site as a browser without relaxed SIMD (Safari) runs it: a copy of `distDir()`
 * whose static/worker-build.js probe says no, so every worker loads the plain `worker` build.
 * Served like the site; `close()` stops the server and deletes the copy.
 */
export async function siteWithoutRelaxedSimd() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'affinity-no-relaxed-'));
  cpSync(distDir(), dir, { recursive: true });
  const probe = path.join(dir, 'worker-build.js');
  const source = readFileSync(probe, 'utf8');
  if (!source.includes('WebAssembly.validate(')) throw new Error(`${probe} no longer probes with WebAssembly.validate`);
  writeFileSync(probe, source.replace('WebAssembly.validate(', 'false && WebAssembly.validate('));
  const server = await startServer(dir);
  return {
    server,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium) ` +
        `or set CHROMIUM_PATH. Playwright cannot download browsers here.`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** True for URLs the page may load: the local server's origin, data: and blob: URLs. */
export function isAllowedUrl(url, origin) {
  if (url.startsWith('data:') || url.startsWith('blob:')) return true;
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

/**
 * Opens a fresh context and page and records everything that must not happen:
 * - pageerror (uncaught exceptions in the page) and weberror (any page of the context),
 * - console messages of type "error" (from the page or any of its workers), and warnings
 *   printed by the app's own scripts (not the browser's remarks on the page's markup),
 * - failed requests,
 * - requests to anything but the local server (from the page, its workers, the context),
 * - local responses with an HTTP status >= 400 (a missing asset), except /favicon.ico.
 * External requests are also aborted (and recorded) by a route, so nothing leaves the machine.
 * Returns { context, page, problems, workers, problemReport(), assertClean() }.
 */
export async function openRecordedPage(browser, origin, { viewport = { width: 1280, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: false, serviceWorkers: 'block' });
  const problems = {
    pageErrors: [],
    consoleErrors: [],
    consoleWarnings: [],
    failedRequests: [],
    externalRequests: [],
    badResponses: [],
  };
  const seenRequests = new WeakSet();
  const seenConsole = new WeakSet();
  const seenErrors = new Set();
  const workers = [];

  const onRequest = (req) => {
    if (seenRequests.has(req)) return;
    seenRequests.add(req);
    const url = req.url();
    if (!isAllowedUrl(url, origin)) {
      problems.externalRequests.push(`${req.method()} ${url} (${req.resourceType()})`);
    }
  };
  const onRequestFailed = (req) => {
    problems.failedRequests.push(`${req.method()} ${req.url()}: ${req.failure()?.errorText ?? 'failed'}`);
  };
  const onResponse = (resp) => {
    const url = resp.url();
    if (resp.status() >= 400 && isAllowedUrl(url, origin) && new URL(url).pathname !== '/favicon.ico') {
      problems.badResponses.push(`${resp.status()} ${resp.request().method()} ${url}`);
    }
  };
  const onConsole = (msg) => {
    if (seenConsole.has(msg)) return;
    seenConsole.add(msg);
    const loc = msg.location();
    if (msg.type() === 'warning' && /\.js$/.test(loc?.url ?? '')) {
      problems.consoleWarnings.push(`${msg.text()} (${loc.url}:${loc.lineNumber})`);
      return;
    }
    if (msg.type() !== 'error') return;
    const where = loc?.url ? ` (${loc.url}:${loc.lineNumber})` : '';
    const from = msg.worker?.() ? ` [worker ${msg.worker().url()}]` : '';
    // The same message can reach us through the page and through its worker.
    const key = `${msg.text()}${where}${from}@${msg.timestamp?.() ?? ''}`;
    if (seenErrors.has(key)) return;
    seenErrors.add(key);
    problems.consoleErrors.push(`${msg.text()}${where}${from}`);
  };

  // pageerror and the context's weberror both report a page's uncaught exceptions: keep one copy.
  const recordPageError = (e) => {
    const head = `${e?.name ?? 'Error'}: ${e?.message ?? e}`;
    if (problems.pageErrors.some((p) => p.startsWith(head))) return;
    const stack = typeof e?.stack === 'string' && e.stack.includes(e?.message ?? '') ? e.stack : `${head}\n${e?.stack ?? ''}`;
    problems.pageErrors.push(stack.startsWith(head) ? stack : `${head}\n${stack}`);
  };

  context.on('request', onRequest);
  context.on('requestfailed', onRequestFailed);
  context.on('response', onResponse);
  context.on('weberror', (err) => {
    const e = err.error();
    recordPageError(e);
  });
  // Abort (and record, through the request event) anything that would leave the machine.
  await context.route(
    (url) => !isAllowedUrl(url.href, origin),
    (route) => route.abort('blockedbyclient'),
  );

  const page = await context.newPage();
  page.on('request', onRequest);
  page.on('requestfailed', (req) => {
    // context.on('requestfailed') sees it as well; keep one copy.
    const line = `${req.method()} ${req.url()}: ${req.failure()?.errorText ?? 'failed'}`;
    if (!problems.failedRequests.includes(line)) problems.failedRequests.push(line);
  });
  page.on('pageerror', recordPageError);
  page.on('console', onConsole);
  page.on('worker', (worker) => {
    workers.push(worker.url());
    worker.on('console', onConsole);
  });

  // Requests are recorded twice (context and page); failures too: de-duplicate when reporting.
  const dedupe = (list) => [...new Set(list)];
  const problemReport = () => {
    const sections = [];
    for (const [name, list] of Object.entries(problems)) {
      const items = dedupe(list);
      if (items.length) sections.push(`${name} (${items.length}):\n  - ${items.join('\n  - ')}`);
    }
    return sections.join('\n');
  };
  const assertClean = () => {
    const report = problemReport();
    if (report) {
      const err = new Error(`The page did something it must not:\n${report}`);
      err.recordedProblems = true;
      throw err;
    }
  };
  return { context, page, problems, workers, problemReport, assertClean };
}

/** The page's visible text, for failure messages. */
export async function pageText(page) {
  try {
    return await page.evaluate(() => document.body?.innerText ?? '(no body)');
  } catch (e) {
    return `(could not read the page: ${e.message})`;
  }
}

/**
 * Polls `probe` (async, returns a truthy value when done) every `interval` ms until it
 * succeeds or `timeout` ms pass; then throws with `what` and the last observation.
 * `probe` may return { done, value, seen } or any truthy value. `failFast()`, called before
 * every probe, may return a message to give up at once.
 */
export async function waitUntil(what, probe, { timeout = 120_000, interval = 200, failFast } = {}) {
  const deadline = Date.now() + timeout;
  let last = '(nothing observed)';
  for (;;) {
    // Stop early when something already went wrong (e.g. a panic): no point waiting 2 minutes.
    const fatal = failFast?.();
    if (fatal) throw new Error(`Gave up waiting for ${what}: ${fatal}; last seen: ${last}`);
    try {
      const result = await probe();
      if (result && typeof result === 'object' && 'done' in result) {
        last = result.seen ?? JSON.stringify(result.value);
        if (result.done) return result.value;
      } else if (result) {
        return result;
      } else {
        last = String(result);
      }
    } catch (e) {
      last = `probe threw: ${e.message}`;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeout} ms waiting for ${what}; last seen: ${last}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Text of the first element with this data-testid, or null when there is none. */
export async function testIdText(page, id) {
  const loc = page.locator(`[data-testid="${id}"]`);
  if ((await loc.count()) === 0) return null;
  return (await loc.first().innerText()).trim();
}

/** Numbers in `text`, thousands separators (commas) removed. */
export function numbersIn(text) {
  return (text.replace(/(\d),(?=\d{3}\b)/g, '$1').match(/-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g) || []).map(Number);
}

/** Mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sampler (Box-Muller) on top of `rand`. */
export function gaussian(rand) {
  return () => {
    let u = 0;
    while (u === 0) u = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

/**
 * A ratings file the app has never seen: `nUsers` × `nItems`, ids `u<k>` / `i<k>`, about
 * `nRatings` distinct (user, item) pairs rated 1-5 from a planted rank-`rank` structure plus
 * noise. Returns { csv, nRatings, users, items, ratedBy (Map user -> Set items), userOrder }.
 */
export function plantedRatings({ seed = 20260517, nUsers = 400, nItems = 300, nRatings = 15_000, rank = 3, noise = 0.3 } = {}) {
  const rand = mulberry32(seed);
  const normal = gaussian(rand);
  const scale = 0.75; // factor entries ~ N(0, 0.75²): the signal u·v has a standard deviation near 1
  const U = Array.from({ length: nUsers }, () => Array.from({ length: rank }, () => scale * normal()));
  const V = Array.from({ length: nItems }, () => Array.from({ length: rank }, () => scale * normal()));
  const userBias = Array.from({ length: nUsers }, () => 0.3 * normal());
  const itemBias = Array.from({ length: nItems }, () => 0.3 * normal());
  const picked = new Set();
  const lines = ['user,item,rating'];
  const ratedBy = new Map();
  const items = new Set();
  // Every user gets a few ratings first, so all of them have some; the rest fall at random.
  const pairs = [];
  for (let u = 0; u < nUsers; u++) {
    for (let k = 0; k < 5; k++) pairs.push([u, Math.floor(rand() * nItems)]);
  }
  while (pairs.length < nRatings * 1.2) pairs.push([Math.floor(rand() * nUsers), Math.floor(rand() * nItems)]);
  for (const [u, i] of pairs) {
    if (picked.size >= nRatings) break;
    const key = u * nItems + i;
    if (picked.has(key)) continue;
    picked.add(key);
    let dot = 0;
    for (let f = 0; f < rank; f++) dot += U[u][f] * V[i][f];
    const r = Math.min(5, Math.max(1, Math.round(3.2 + userBias[u] + itemBias[i] + dot + noise * normal())));
    const user = `u${u}`;
    const item = `i${i}`;
    lines.push(`${user},${item},${r}`);
    if (!ratedBy.has(user)) ratedBy.set(user, new Set());
    ratedBy.get(user).add(item);
    items.add(item);
  }
  return {
    csv: lines.join('\n') + '\n',
    nRatings: picked.size,
    users: new Set(ratedBy.keys()),
    items,
    ratedBy,
  };
}

/**
 * Run in the page before its scripts (Playwright's `addInitScript`, Puppeteer's
 * `evaluateOnNewDocument`): the export buttons hand an object URL to a download link; this
 * keeps each Blob (`window.__e2eBlobs`, by URL) and each download asked for
 * (`window.__e2eDownloads`: name, href) instead of saving a file.
 */
export function recordDownloads() {
  window.__e2eBlobs = new Map();
  window.__e2eDownloads = [];
  const create = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj) => {
    const url = create(obj);
    window.__e2eBlobs.set(url, obj);
    return url;
  };
  const click = HTMLAnchorElement.prototype.click;
  HTMLAnchorElement.prototype.click = function () {
    if (!this.hasAttribute('download')) return click.call(this);
    window.__e2eDownloads.push({ name: this.download, href: this.href });
    return undefined;
  };
}

/**
 * One server for the built site and one browser, shared by a test file: returns `setup()`,
 * which starts both on first call (later calls get the same pair), and closes them after the
 * file's tests. `launch` starts the browser (headless Chromium by default). A missing build
 * makes every test fail with the reason, never a silent skip.
 */
export function sharedSite(launch = launchBrowser) {
  let shared;
  after(async () => {
    if (!shared) return;
    try {
      const { server, browser } = await shared;
      await browser.close();
      await server.close();
    } catch {
      // setup failed: the tests already reported why
    }
  });
  return () => {
    shared ??= (async () => {
      const server = await startServer(distDir());
      try {
        return { server, browser: await launch() };
      } catch (e) {
        await server.close();
        throw e;
      }
    })();
    return shared;
  };
}
