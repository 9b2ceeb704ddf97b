// What the tests and benchmarks that drive a browser through puppeteer-core share: Firefox
// (Playwright's Firefox is a patched build that cannot be downloaded here) and the form
// helpers Playwright's locators otherwise give.

import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer-core';

/** $FIREFOX_PATH, else Debian's firefox-esr or firefox (scripts/setup.sh installs firefox-esr). */
export const FIREFOX_PATH = process.env.FIREFOX_PATH || ['/usr/bin/firefox-esr', '/usr/bin/firefox'].find((p) => existsSync(p));

/**
 * Headless Firefox over WebDriver BiDi (`options` go to `puppeteer.launch`); fails with a
 * clear message when there is none.
 */
export async function launchFirefox(options = {}) {
  if (!FIREFOX_PATH) {
    throw new Error("No Firefox: install Debian's firefox-esr (apt-get install firefox-esr, as scripts/setup.sh does) or set FIREFOX_PATH.");
  }
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, protocol: 'webDriverBiDi', ...options });
}

const sel = (id) => `[data-testid="${id}"]`;

/** Checks or unchecks the checkbox with test id `id`. */
export async function setChecked(page, id, on) {
  const box = await page.$(sel(id));
  if ((await box.evaluate((el) => el.checked)) !== on) await box.click();
}

/** Replaces the value of the input with test id `id` by typing `value`. */
export async function fill(page, id, value) {
  await page.$eval(sel(id), (el) => {
    el.value = '';
  });
  await page.type(sel(id), value);
}
