// Affinity's service worker: keeps a copy of the app's files so the page loads and trains
// with no network after the first visit.
//
// Trunk gives the app's JS, wasm and CSS hashed names that change with every build, so the
// list of files is read from index.html at install time rather than written here. Hashed
// files never change under their name: they are served from the cache first. Everything else
// (index.html, the worker's unhashed files, the manifest) is fetched from the network first,
// so a new build is picked up at once, and the cached copy answers only when offline.
const CACHE = 'affinity-v1';
// Sets AFFINITY_WORKER, the build of the training worker this browser runs.
importScripts('./worker-build.js');
const FIXED = [
  './',
  './worker-loader.js',
  './worker-build.js',
  `./${self.AFFINITY_WORKER}.js`,
  `./${self.AFFINITY_WORKER}_bg.wasm`,
  './manifest.webmanifest',
  './icon.svg',
];
const HASHED = /-[0-9a-f]{12,16}(?:_bg)?\.(?:js|wasm|css)$/;

/** The same-origin files index.html refers to (stylesheets, the app's JS and wasm). */
function assetsOf(html) {
  const found = new Set();
  for (const m of html.matchAll(/["'](\/?[\w./-]+\.(?:js|wasm|css|svg|webmanifest|png))["']/g)) {
    found.add(new URL(m[1], self.registration.scope).href);
  }
  return [...found];
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const page = await fetch('./', { cache: 'no-store' });
      if (page.ok) {
        const html = await page.clone().text();
        await cache.put('./', page);
        const files = [...FIXED.slice(1).map((f) => new URL(f, self.registration.scope).href), ...assetsOf(html)];
        // One missing file must not stop the others from being kept.
        await Promise.allSettled(files.map((f) => cache.add(new Request(f, { cache: 'no-store' }))));
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key !== CACHE) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

async function networkFirst(request, cacheKey) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(cacheKey, response.clone());
    return response;
  } catch (e) {
    const cached = await cache.match(cacheKey);
    if (cached) return cached;
    throw e;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    // Every page of the app is index.html.
    event.respondWith(networkFirst(request, './'));
  } else if (HASHED.test(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else {
    event.respondWith(networkFirst(request, request));
  }
});
