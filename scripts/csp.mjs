// Trunk post-build hook: declares the page's Content-Security-Policy in a <meta> tag, since a
// static host may send no headers. Trunk's loader is an inline module script whose text (hashed
// file names) changes with every build, so it is allowed by its SHA-256 rather than by
// 'unsafe-inline'. The wasm needs 'wasm-unsafe-eval' and nothing broader. The same pass drops
// the integrity attribute Chromium ignores on the wasm's preload (preload_integrity.mjs).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dropIgnoredIntegrity } from './preload_integrity.mjs';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) {
  console.error('csp.mjs: TRUNK_STAGING_DIR is not set (run me as a Trunk post_build hook)');
  process.exit(1);
}
const file = path.join(dir, 'index.html');
const preloads = dropIgnoredIntegrity(readFileSync(file, 'utf8'));
let html = preloads.html;

const hashes = [];
for (const m of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)) {
  hashes.push(`'sha256-${createHash('sha256').update(m[1], 'utf8').digest('base64')}'`);
}
const policy = [
  "default-src 'self'",
  `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(' ')}`.trim(),
  // gloo-worker 0.5 starts each worker from a blob: URL that importScripts() the worker's file.
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const meta = `<meta http-equiv="Content-Security-Policy" content="${policy}" />`;
html = html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>\s*/g, '');
if (!/<meta charset="utf-8" \/>/.test(html)) {
  console.error('csp.mjs: no <meta charset="utf-8" /> in index.html to put the policy after');
  process.exit(1);
}
// Right after the charset, before any script, so the policy covers everything.
html = html.replace(/<meta charset="utf-8" \/>/, (m) => `${m}\n    ${meta}`);
writeFileSync(file, html);
console.log(`csp.mjs: policy with ${hashes.length} inline script hash(es) written to index.html; integrity dropped from ${preloads.dropped} fetch preload(s)`);
