/**
 * A real headless browser for the tests that look at what a person sees (the demo page, JupyterLab): the system's
 * Chromium (installed by set-up) driven by playwright-core. Not Playwright's own browser download: its CDN is out of
 * reach of offline machines and many firewalls.
 *
 *   const browser = await launchChromium();          // throws, naming what to install, when none is found
 *   const page = await browser.newPage();
 *   await page.goto("http://127.0.0.1:8000/");
 *   await browser.close();
 */
import * as fs from "fs";
import { chromium, type Browser, type LaunchOptions } from "playwright-core";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/snap/bin/chromium"];

/** The Chromium executable to drive (`BERTLAB_CHROMIUM`, else a system one), or undefined when none is installed. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.BERTLAB_CHROMIUM;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`BERTLAB_CHROMIUM=${fromEnv}: no such file`);
    return fromEnv;
  }
  return CANDIDATES.find((p) => fs.existsSync(p));
}

/** Starts headless Chromium. `--no-sandbox` because CI and containers run as root, where Chromium's sandbox refuses to start. */
export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath)
    throw new Error(
      "no Chromium found: install Debian's `chromium` package (set-up does, as root), or set BERTLAB_CHROMIUM to a Chrome/Chromium executable",
    );
  return chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    ...opts,
  });
}
