// What the browser tests (run.mjs, cors.mjs) share: skipping with exit code
// 77 when chromium, playwright-core or a ../shared file is missing, and
// `mend serve` started as a child on a free loopback port.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';

export function skip(why) {
  console.log(`skipped: ${why}`);
  process.exit(77);
}

// playwright-core from tests/e2e/node_modules, with Debian's chromium; skips without them.
export function loadPlaywright() {
  try {
    if (!fs.existsSync(CHROMIUM)) throw new Error('no chromium');
    const here = path.dirname(fileURLToPath(import.meta.url));
    return createRequire(path.join(here, 'package.json'))('playwright-core');
  } catch (e) {
    return skip('chromium/playwright-core not found');
  }
}

// ../shared/testdata/<rel>, or a skip when it is absent.
export function sharedFile(sharedDir, rel) {
  const p = path.join(sharedDir, 'testdata', rel);
  if (!fs.existsSync(p)) skip(`${p} not found`);
  return p;
}

// `MEND_BIN serve --port 0 --threads 2 ARGS`: the child at once (for the
// caller's cleanup) and a promise of the port it prints it listens on.
export function startMendServe(mendBin, args) {
  const child = spawn(mendBin, ['serve', '--port', '0', '--threads', '2', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`mend serve did not start in 60 s:\n${log}`)), 60000);
    const onData = (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`mend serve exited (${code}):\n${log}`)); });
  });
  return { child, port };
}
