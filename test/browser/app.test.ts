// The web app of `meddiff serve` in a real browser (the system's chromium through playwright-core)
// against the real server and the shipped model: upload → classification → explanation streamed
// over SSE → overlay slider → test-set gallery and its filters, with no console errors. Leaves a
// screenshot (in a temp folder; MEDDIFF_SCREENSHOT=docs/images/serve.png refreshes the README's). Without
// chromium it skips, or fails when CI is set.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { startServer } from '../../src/server/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const FIXTURE = path.join(root, 'data', 'fixtures', 'nih_cxr14_00000001_000.png');
const SCREENSHOT = process.env.MEDDIFF_SCREENSHOT ? path.resolve(process.env.MEDDIFF_SCREENSHOT) : path.join(os.tmpdir(), `meddiff-serve-${process.pid}.png`);
const CLASSES = ['normal', 'pneumonia'];
// The model runs on a couple of CPU cores, maybe on pure wasm: classify takes seconds, explain tens.
const CLASSIFY_MS = 120_000, EXPLAIN_MS = 240_000;

// The skip reason shows in the test report (`# SKIP no chromium at …`).
const noBrowser = fs.existsSync(CHROMIUM) ? null : `no chromium at ${CHROMIUM} (apt-get install chromium)`;

/** Waits until every image matched has loaded with real pixels. */
async function imagesLoaded(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(({ selector, count }) => {
    const imgs = [...document.querySelectorAll<HTMLImageElement>(selector)];
    return imgs.length === count && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, { selector, count });
}

test('web app: classify, explain and the gallery in chromium', { skip: noBrowser && !process.env.CI ? noBrowser : false, timeout: 600_000 }, async (t) => {
  if (noBrowser) assert.fail(`${noBrowser}; CI must run the browser test`);
  const server = await startServer({ models: ['models/pneumoniamnist-unet'], port: 0, host: '127.0.0.1', logger: false });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const problems: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, colorScheme: 'light' });
    page.setDefaultTimeout(60_000);
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

    await t.test('the page lists the served model', async () => {
      await page.goto(new URL('/', server.url).href);
      await page.locator('[data-testid=model-info] .chip').first().waitFor();
      assert.deepEqual(await page.locator('[data-testid=model-info] .chip').allTextContents(), CLASSES);
      assert.equal(await page.getByTestId('model-select').inputValue(), 'pneumoniamnist-unet');
      assert.equal(await page.getByTestId('model-card').count(), 1);
      assert.equal(await page.getByTestId('explain-button').isDisabled(), true, 'nothing to explain before an upload');
    });

    await t.test('an uploaded chest X-ray is classified', async () => {
      await page.getByTestId('file-input').setInputFiles(FIXTURE);
      const prediction = page.getByTestId('prediction');
      await prediction.waitFor({ timeout: CLASSIFY_MS });
      assert.ok(CLASSES.includes((await prediction.textContent())!.trim()), `prediction '${await prediction.textContent()}'`);
      const bars = page.getByTestId('vote-histogram').getByTestId('vote-bar');
      assert.equal(await bars.count(), 2);
      const votes = await bars.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-votes'))));
      assert.ok(votes.every((v) => Number.isInteger(v) && v >= 0) && votes.reduce((a, b) => a + b, 0) > 0, `votes ${votes}`);
      const u = Number(await page.getByTestId('uncertainty').textContent());
      assert.ok(u >= 0 && u <= 1, `uncertainty ${u}`);
      assert.ok((await page.getByTestId('uncertainty-text').textContent())!.length > 10);
      assert.equal(await page.getByTestId('error').textContent(), '', 'no error message');
      await page.locator('[data-testid=preview]').evaluate((img: HTMLImageElement) => img.decode());
    });

    await t.test('explain streams progress and shows the counterfactuals', async () => {
      await page.getByTestId('explain-button').click();
      const result = page.getByTestId('explain-result');
      await result.waitFor({ timeout: EXPLAIN_MS });
      await imagesLoaded(page, '[data-testid=reconstruction] img', 2);
      await imagesLoaded(page, '[data-testid=overlay] img', 2);
      assert.deepEqual((await page.getByTestId('reconstruction').evaluateAll((els) => els.map((e) => e.getAttribute('data-class')))).sort(), CLASSES);
      assert.match((await page.getByTestId('flipped').textContent())!, /^(yes|no)$/);
      assert.equal(await page.getByTestId('colour-legend').count(), 1);
      assert.equal(await page.getByTestId('explain-progress').isVisible(), false, 'the progress bar goes when done');
    });

    await t.test('the opacity slider fades the overlay', async () => {
      const layer = page.getByTestId('overlay-layer');
      const slider = page.getByTestId('overlay-opacity');
      const opacity = () => layer.evaluate((el: HTMLElement) => el.style.opacity);
      const before = await opacity();
      // By keyboard, as a user without a mouse would.
      await slider.focus();
      await page.keyboard.press('Home');
      assert.notEqual(await opacity(), before);
      assert.equal(await opacity(), '0');
      await page.keyboard.press('End');
      for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
      assert.equal(await opacity(), '0.85');
      await slider.blur();
    });

    await t.test('screenshot for the docs', async () => {
      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      assert.ok(fs.statSync(SCREENSHOT).size > 10_000);
    });

    await t.test('the gallery shows the test set, most uncertain first, and filters by outcome', async () => {
      await page.getByTestId('gallery-tab').click();
      const items = page.getByTestId('gallery').getByTestId('gallery-item');
      await items.first().waitFor();
      const all = await items.count();
      assert.ok(all > 2, `${all} thumbnails`);
      await imagesLoaded(page, '[data-testid=gallery] > li:first-child img', 1);
      const fn = page.getByTestId('filter-FN');
      const fnCount = Number(await fn.locator('.count').textContent());
      assert.ok(fnCount > 0 && fnCount < all, `FN count ${fnCount} of ${all}`);
      await fn.click();
      await page.waitForFunction((n) => {
        const els = [...document.querySelectorAll('[data-testid=gallery-item]')];
        return els.length === n && els.every((e) => e.getAttribute('data-outcome') === 'FN');
      }, fnCount);
      assert.equal(await fn.getAttribute('aria-pressed'), 'true');
      assert.equal(await page.getByTestId('filter-all').getAttribute('aria-pressed'), 'false');
    });

    await t.test('a gallery image can be sent to the classifier', async () => {
      await page.getByTestId('gallery-item').first().click();
      // The thumbnail's PNG is fetched first; then the classify tab opens with the old result cleared.
      await page.waitForFunction(() => document.querySelector('[data-testid=classify-tab]')?.getAttribute('aria-selected') === 'true');
      await page.getByTestId('prediction').waitFor({ timeout: CLASSIFY_MS });
      assert.ok(CLASSES.includes((await page.getByTestId('prediction').textContent())!.trim()));
      assert.match((await page.locator('#preview-caption').textContent())!, /^test_\d+\.png/);
    });

    assert.deepEqual(problems, [], 'the page logged no errors');
  } finally {
    await browser.close();
    await server.close();
  }
});
