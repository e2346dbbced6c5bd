/** The system Chromium that the browser tests drive (lib/core/browser.ts): it starts and renders a page. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { findChromium, launchChromium } from "../lib/core/browser";

test("browser: headless Chromium starts and renders escaped text as text", {
  skip: findChromium() ? false : "no Chromium installed (set-up installs Debian's chromium as root)",
}, async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setContent("<p id=t>&lt;b&gt;not bold&lt;/b&gt;</p>");
    assert.equal(await page.textContent("#t"), "<b>not bold</b>");
    assert.equal(await page.locator("b").count(), 0);
  } finally {
    await browser.close();
  }
});

test("browser: BERTLAB_CHROMIUM naming a missing file is a clear error", () => {
  const saved = process.env.BERTLAB_CHROMIUM;
  process.env.BERTLAB_CHROMIUM = "/nowhere/chromium";
  try {
    assert.throws(() => findChromium(), /BERTLAB_CHROMIUM=\/nowhere\/chromium: no such file/);
  } finally {
    if (saved === undefined) delete process.env.BERTLAB_CHROMIUM; else process.env.BERTLAB_CHROMIUM = saved;
  }
});
