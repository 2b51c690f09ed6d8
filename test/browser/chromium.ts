/**
 * What the browser tests share: Debian's chromium (skipped, visibly, where it is not installed;
 * .ci/run installs it), an app served on a free loopback port, and the folder screenshots and
 * timings go to.
 */
import { existsSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { createApp } from '../../src/server/index.js';
import { REPO_ROOT } from '../fixtures/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Where screenshots and timings go. */
export const OUT = path.join(REPO_ROOT, 'test-output');

/** Whether chromium is installed; if not, says that the tests of `testFile` are skipped. */
export function chromiumInstalled(testFile: string): boolean {
  const installed = existsSync(CHROMIUM);
  if (!installed) console.warn(`${testFile}: skipped, ${CHROMIUM} is not installed (apt-get install -y chromium)`);
  return installed;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
}

/** `app` listening on a free loopback port, and its URL (with a trailing slash). */
export async function listenOnLoopback(app: ReturnType<typeof createApp>): Promise<{ server: Server; url: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** Closes what a browser test opened, each where it was: the browser, the server, the store and the encoder; then removes its folder. */
export async function closeBrowserTest(opened: { browser?: Browser; server?: Server; store?: { close(): Promise<void> }; encoder?: { close(): Promise<void> }; root?: string }): Promise<void> {
  await opened.browser?.close();
  await new Promise((resolve) => (opened.server ? opened.server.close(resolve) : resolve(undefined)));
  await opened.store?.close();
  await opened.encoder?.close();
  if (opened.root) rmSync(opened.root, { recursive: true, force: true });
}
