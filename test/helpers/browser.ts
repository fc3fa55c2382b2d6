import { access } from "node:fs/promises";
import { chromium, type Browser } from "playwright-core";

/** Debian's chromium, installed by scripts/setup.sh; playwright-core drives it and downloads no browser. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Launches the system chromium headless. Fails (never skips) when it is missing, so CI without
 * the browser goes red instead of passing the dashboard's tests silently.
 */
export async function launchChromium(): Promise<Browser> {
  try {
    await access(CHROMIUM);
  } catch {
    throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium for the dashboard's browser test)`);
  }
  // --no-sandbox: tests run as root in CI, where chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}
