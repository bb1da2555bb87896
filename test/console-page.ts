/**
 * The local console in headless Chromium for one test: the page opened at the server's URL, the
 * page's uncaught errors collected (a test asserts there are none), the browser closed after.
 */
import { chromium, type Page } from 'playwright-core';

export async function withConsolePage(url: string, use: (page: Page, errors: string[]) => Promise<void>): Promise<void> {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${url}/`);
    await use(page, errors);
  } finally {
    await browser.close();
  }
}
