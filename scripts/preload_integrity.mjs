// Drops the `integrity` attribute from `<link rel="preload" as="fetch">` tags: Trunk's preload of
// the wasm. Chromium ignores it on such preloads (https://crbug.com/981419) and warns about it
// in the console on every load; the JS module's preload keeps its hash, which browsers check.
// Used by the post-build hook scripts/csp.mjs (Trunk runs hooks of one stage at the same time,
// so two hooks must not both rewrite index.html).

/** `html` without integrity on fetch preloads, and how many tags lost it. */
export function dropIgnoredIntegrity(html) {
  let dropped = 0;
  const out = html.replace(/<link\b[^>]*>/g, (tag) => {
    if (!/\brel="preload"/.test(tag) || !/\bas="fetch"/.test(tag)) return tag;
    const bare = tag.replace(/\s+integrity="[^"]*"/, '');
    if (bare !== tag) dropped += 1;
    return bare;
  });
  return { html: out, dropped };
}
