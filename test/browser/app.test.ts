// The web app of `meddiff serve` in a real browser (the system's chromium through playwright-core)
// against the real server and the shipped model: upload → classification → explanation streamed
// over SSE → overlay slider → test-set gallery and its filters, with no console errors; and the
// keyboard and screen-reader side: focus never lost (Explain/Cancel, tabs by arrow keys, gallery
// filters, "Show more", a thumbnail sent to the classifier), live regions, aria-busy, and the retry
// seconds of a full queue (answers mocked with page.route). Leaves a
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

/** What has focus: its id, data-testid and tag (body when focus was lost). */
async function focused(page: Page): Promise<{ id: string; testid: string | null; tag: string }> {
  return page.evaluate(() => {
    const a = document.activeElement;
    return { id: a?.id ?? '', testid: a?.getAttribute('data-testid') ?? null, tag: a?.tagName.toLowerCase() ?? '' };
  });
}

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
  // HTTP statuses the mocked answers send on purpose: chromium logs each as a console error.
  const mockedStatuses = new Set<number>();
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

    await t.test('explain moves focus to Cancel; Cancel clears aria-busy and gives focus back', async () => {
      const button = page.getByTestId('explain-button');
      const output = page.locator('#explain-output');
      // By keyboard: Enter on Explain disables it, so focus must move (to Cancel), not fall to <body>.
      await button.focus();
      await page.keyboard.press('Enter');
      assert.deepEqual(await focused(page), { id: 'explain-cancel', testid: null, tag: 'button' }, 'focus moves from the disabled Explain to Cancel');
      assert.equal(await output.getAttribute('aria-busy'), 'true');
      // Cancel once the stream has started (the first progress event), so it stops a real job.
      await page.waitForFunction(() => document.getElementById('explain-phase')?.textContent !== 'Sending the image…', null, { timeout: EXPLAIN_MS });
      assert.match((await page.getByTestId('explain-status').textContent())!, /^Explaining: /, 'the phase is in a live region');
      assert.equal(await page.getByTestId('explain-status').getAttribute('role'), 'status');
      await page.keyboard.press('Enter');
      assert.equal(await output.getAttribute('aria-busy'), null, 'no aria-busy left after Cancel');
      assert.deepEqual(await focused(page), { id: 'explain-button', testid: 'explain-button', tag: 'button' }, 'focus back on Explain');
      assert.equal(await button.isDisabled(), false);
      assert.equal(await page.locator('#explain-cancel').isVisible(), false);
      assert.equal(await page.getByTestId('explain-progress').isVisible(), false);
      assert.equal((await output.textContent())!.trim(), 'Cancelled.');
      assert.match((await page.getByTestId('explain-status').textContent())!, /cancelled/i);
    });

    await t.test('explain streams progress and shows the counterfactuals', async () => {
      // After a cancel, a new explanation still works (by keyboard: focus is on Explain).
      await page.keyboard.press('Enter');
      assert.equal((await focused(page)).id, 'explain-cancel');
      const result = page.getByTestId('explain-result');
      await result.waitFor({ timeout: EXPLAIN_MS });
      await imagesLoaded(page, '[data-testid=reconstruction] img', 2);
      await imagesLoaded(page, '[data-testid=overlay] img', 2);
      assert.deepEqual((await page.getByTestId('reconstruction').evaluateAll((els) => els.map((e) => e.getAttribute('data-class')))).sort(), CLASSES);
      assert.match((await page.getByTestId('flipped').textContent())!, /^(yes|no)$/);
      assert.equal(await page.getByTestId('colour-legend').count(), 1);
      assert.equal(await page.getByTestId('explain-progress').isVisible(), false, 'the progress bar goes when done');
      assert.equal(await page.locator('#explain-output').getAttribute('aria-busy'), null);
      assert.equal((await focused(page)).id, 'explain-button', 'focus back on Explain when done');
      assert.match((await page.getByTestId('explain-status').textContent())!, /^Explanation ready/);
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

    await t.test('a full queue: the retry seconds show, from a 429 before the stream and from its error event', async () => {
      const banner = page.getByTestId('error');
      const explain = page.getByTestId('explain-button');
      const bannerSays = (re: RegExp) => page.waitForFunction((src) => new RegExp(src).test(document.querySelector('[data-testid=error]')?.textContent ?? ''), re.source);
      const answers: { status: number; headers: Record<string, string>; body: string; expect: RegExp }[] = [
        // Refused before the event stream starts: the JSON error and a Retry-After header.
        { status: 429, headers: { 'content-type': 'application/json', 'retry-after': '7' },
          body: JSON.stringify({ statusCode: 429, error: 'Too Many Requests', message: 'the server is busy (8 jobs waiting)', requestId: 'req-429', retryAfter: 7 }),
          expect: /busy \(8 jobs waiting\).*try again in 7 s.*req-429/ },
        // The same without the header: the body's retryAfter.
        { status: 429, headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ statusCode: 429, error: 'Too Many Requests', message: 'the server is busy', requestId: 'req-body', retryAfter: 4 }),
          expect: /try again in 4 s/ },
        // The stream started, then its error event carries retryAfter.
        { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' },
          body: 'event: progress\ndata: {"phase":"queued","step":0,"steps":1,"position":2}\n\n'
            + `event: error\ndata: ${JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'the job took longer than the server\'s limit', requestId: 'req-sse', retryAfter: 12 })}\n\n`,
          expect: /server's limit.*Try again in 12 s.*req-sse/ },
      ];
      try {
        for (const a of answers) {
          if (a.status >= 400) mockedStatuses.add(a.status);
          await page.route('**/api/explain', (route) => route.fulfill({ status: a.status, headers: a.headers, body: a.body }));
          await explain.click();
          await bannerSays(a.expect);
          assert.equal(await page.locator('#explain-output').getAttribute('aria-busy'), null, 'not busy after an error');
          assert.equal(await page.locator('#explain-cancel').isVisible(), false);
          assert.equal(await explain.isDisabled(), false);
          await page.unroute('**/api/explain');
        }
      } finally {
        await page.unroute('**/api/explain');
      }
      await banner.locator('.dismiss').click();
      assert.equal(await banner.textContent(), '');
    });

    await t.test('arrow keys move between the tabs, selection and focus following', async () => {
      const selected = () => page.evaluate(() => [...document.querySelectorAll('[role=tab]')].map((t) => `${t.id}=${t.getAttribute('aria-selected')}`).join(' '));
      const visible = () => page.evaluate(() => [...document.querySelectorAll<HTMLElement>('[role=tabpanel]')].filter((p) => !p.hidden).map((p) => p.id));
      await page.getByTestId('classify-tab').focus();
      await page.keyboard.press('ArrowRight');
      assert.equal(await selected(), 'tab-classify=false tab-gallery=true');
      assert.equal((await focused(page)).id, 'tab-gallery');
      assert.deepEqual(await visible(), ['panel-gallery']);
      await page.keyboard.press('ArrowLeft');
      assert.equal(await selected(), 'tab-classify=true tab-gallery=false');
      assert.equal((await focused(page)).id, 'tab-classify');
      assert.deepEqual(await visible(), ['panel-classify']);
      // It wraps around: left of the first tab is the last.
      await page.keyboard.press('ArrowLeft');
      assert.equal(await selected(), 'tab-classify=false tab-gallery=true');
      assert.equal((await focused(page)).id, 'tab-gallery');
      assert.deepEqual(await visible(), ['panel-gallery']);
    });

    await t.test('the gallery shows the test set, most uncertain first, and filters by outcome', async () => {
      // The tab is open (arrow keys, above); a click on it keeps it so.
      await page.getByTestId('gallery-tab').click();
      const items = page.getByTestId('gallery').getByTestId('gallery-item');
      await items.first().waitFor();
      const all = await items.count();
      assert.ok(all > 2, `${all} thumbnails`);
      await imagesLoaded(page, '[data-testid=gallery] > li:first-child img', 1);
      // The thumbnails are not a live region (48 labels read out); a short status line is.
      assert.equal(await page.locator('#gallery-root').getAttribute('aria-live'), null);
      assert.equal(await page.locator('#gallery-root [aria-live]').count(), 0);
      const status = page.getByTestId('gallery-status');
      assert.equal(await status.getAttribute('role'), 'status');
      assert.match((await status.textContent())!, new RegExp(`^Showing ${all} of \\d+ images\\.$`));
      const fn = page.getByTestId('filter-FN');
      const fnCount = Number(await fn.locator('.count').textContent());
      assert.ok(fnCount > 0 && fnCount < all, `FN count ${fnCount} of ${all}`);

      // "Show more" goes away when pressed: focus moves to the first thumbnail it added.
      const more = page.getByTestId('gallery-more');
      if (await more.count()) {
        await more.click();
        await page.waitForFunction((n) => document.querySelectorAll('[data-testid=gallery-item]').length > n, all);
        const at = await page.evaluate(() => [...document.querySelectorAll('[data-testid=gallery-item]')].indexOf(document.activeElement!));
        assert.equal(at, all, 'focus on the first new thumbnail');
        const now = await items.count();
        assert.match((await status.textContent())!, new RegExp(`^Showing ${now} of \\d+ images\\.$`));
      }

      await fn.click();
      await page.waitForFunction((n) => {
        const els = [...document.querySelectorAll('[data-testid=gallery-item]')];
        return els.length === n && els.every((e) => e.getAttribute('data-outcome') === 'FN');
      }, fnCount);
      assert.equal(await fn.getAttribute('aria-pressed'), 'true');
      assert.equal(await page.getByTestId('filter-all').getAttribute('aria-pressed'), 'false');
      // The filters were drawn anew: focus is on the new pressed one, not lost on <body>.
      assert.equal((await focused(page)).testid, 'filter-FN', 'focus on the pressed filter');
      assert.equal(await status.textContent(), `Showing ${fnCount} of ${fnCount} false negative${fnCount === 1 ? '' : 's'}.`);
    });

    await t.test('a gallery image can be sent to the classifier', async () => {
      await page.getByTestId('gallery-item').first().click();
      // The thumbnail's PNG is fetched first; then the classify tab opens with the old result cleared.
      await page.waitForFunction(() => document.querySelector('[data-testid=classify-tab]')?.getAttribute('aria-selected') === 'true');
      // Focus followed the image into the now-visible classify panel, not left in the hidden gallery.
      await page.waitForFunction(() => {
        const a = document.activeElement, panel = document.getElementById('panel-classify')!;
        return !panel.hidden && a !== null && a !== document.body && panel.contains(a);
      });
      assert.equal(await page.locator('#panel-gallery').isHidden(), true);
      await page.getByTestId('prediction').waitFor({ timeout: CLASSIFY_MS });
      assert.ok(CLASSES.includes((await page.getByTestId('prediction').textContent())!.trim()));
      assert.match((await page.locator('#preview-caption').textContent())!, /^test_\d+\.png/);
    });

    // The mocked error answers above are logged by chromium as failed loads: those are expected.
    const expected = (p: string) => [...mockedStatuses].some((s) => p.startsWith(`console: Failed to load resource: the server responded with a status of ${s}`));
    assert.deepEqual(problems.filter((p) => !expected(p)), [], 'the page logged no errors');
  } finally {
    await browser.close();
    await server.close();
  }
});
