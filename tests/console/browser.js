// Debian's Chromium, headless, driven by playwright-core; and the folder that
// keeps the screenshots.
//
// This file is a helper, not a test file: `node --test tests/console/` only
// runs files named *.test.js.

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.OSPREY_CHROMIUM || '/usr/bin/chromium';

/** test-artifacts/console/ at the repository root (gitignored). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));

/**
 * Launches headless Chromium. Playwright gives every launch a fresh,
 * temporary --user-data-dir of its own (and refuses one in `args`); the
 * other flags keep Chromium from reaching for the network, which here is
 * closed and would make it hang.
 */
export async function launch() {
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * Watches a page for what must never happen: a request to any other origin,
 * a script error, or a console error (CSP violations are reported there).
 * `problems()` lists what was seen.
 */
export function watch(page, origin) {
  const seen = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin + '/') && !url.startsWith('data:')) seen.push(`request to another origin: ${url}`);
  });
  page.on('pageerror', (error) => seen.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    // Chromium logs every non-2xx answer; the refusals the tests provoke on
    // purpose (a wrong key, a refused create) are expected there.
    if (/^Failed to load resource: the server responded with a status of (400|401|403) /.test(message.text())) return;
    seen.push(`console ${message.type()}: ${message.text()}`);
  });
  return { problems: () => seen.slice(), clear: () => seen.splice(0) };
}

let shots = 0;

/** Saves a screenshot as test-artifacts/console/NN-name.png and returns its path. */
export async function screenshot(target, name, options = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  shots += 1;
  const path = `${ARTIFACTS}${String(shots).padStart(2, '0')}-${name}.png`;
  await target.screenshot({ path, ...options });
  return path;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core (WCAG 2.1 A and AA rules) on the page as it is now and
 * returns its violations as readable lines (empty when none). The engine is
 * injected through the DevTools protocol, which the page's CSP does not
 * govern; the page itself still loads nothing but its own files.
 */
export async function accessibilityViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`),
    }));
  });
  return violations.flatMap((v) => v.nodes.map((node) => `${v.id} (${v.help}) at ${node}`));
}
