// Browser test of CORS the way openOutpaint uses mend: a page served from
// another origin (a tiny node HTTP server on its own port) drives an inpaint
// through the A1111 API of `mend serve --cors-allow-origins ORIGIN` with
// fetch(): options and sd-models GETs, an img2img POST with JSON (so the
// browser sends a preflight first) carrying canvas.toDataURL() PNGs as
// init_images and mask, progress polls with skip_current_image=true. A page
// from an origin that is not allowed must be refused by the browser.
//
// usage: node tests/e2e/cors.mjs MEND_BIN SHARED_DIR
// Exit 0 pass, 1 fail, 77 skipped (no chromium / playwright-core / vocabulary).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const [mendBin, sharedDir] = process.argv.slice(2);
if (!mendBin || !sharedDir) {
  console.error('usage: node cors.mjs MEND_BIN SHARED_DIR');
  process.exit(2);
}

function skip(why) {
  console.log(`skipped: ${why}`);
  process.exit(77);
}

let playwright;
try {
  if (!fs.existsSync(CHROMIUM)) throw new Error('no chromium');
  playwright = createRequire(path.join(HERE, 'package.json'))('playwright-core');
} catch (e) {
  skip('chromium/playwright-core not found');
}
const vocab = path.join(sharedDir, 'testdata/clip/bpe_simple_vocab_16e6.txt.gz');
if (!fs.existsSync(vocab)) skip(`${vocab} not found`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mend-cors-'));
let failures = 0;
let server = null, browser = null;
const origins = [];

function check(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures++;
}

// The openOutpaint-like page: everything it does is in window.drive(api).
const PAGE = `<!doctype html><meta charset="utf-8"><title>other origin</title><canvas id="c" width="64" height="64"></canvas>
<script>
window.drive = async (api) => {
  const log = {};
  const json = async (r) => { log.status = r.status; return r.json(); };
  log.options = await json(await fetch(api + '/sdapi/v1/options'));
  log.models = await json(await fetch(api + '/sdapi/v1/sd-models'));
  const c = document.getElementById('c'), g = c.getContext('2d');
  const grad = g.createLinearGradient(0, 0, 64, 64);
  grad.addColorStop(0, '#c33'); grad.addColorStop(1, '#33c');
  g.fillStyle = grad; g.fillRect(0, 0, 64, 64);
  const init = c.toDataURL();
  const m = document.createElement('canvas'); m.width = m.height = 64;
  const mg = m.getContext('2d'); mg.fillStyle = '#000'; mg.fillRect(0, 0, 64, 64);
  mg.fillStyle = '#fff'; mg.fillRect(16, 16, 32, 32);
  let polls = 0, polling = true;
  const poll = (async () => {
    while (polling) {
      const p = await (await fetch(api + '/sdapi/v1/progress?skip_current_image=true')).json();
      if (typeof p.progress === 'number') polls++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const body = { prompt: 'a cat', negative_prompt: '', seed: 7, cfg_scale: 7, sampler_index: 'Euler a', steps: 3,
    denoising_strength: 1, mask_blur: 0, batch_size: 1, n_iter: 1, width: 64, height: 64, inpaint_full_res: false,
    inpainting_fill: 1, styles: [], init_images: [init], mask: m.toDataURL() };
  const r = await fetch(api + '/sdapi/v1/img2img', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body) });
  const res = await json(r);
  polling = false; await poll;
  log.polls = polls;
  log.images = res.images ? res.images.length : 0;
  log.seeds = JSON.parse(res.info || '{}').all_seeds;
  const img = new Image();
  await new Promise((ok, bad) => { img.onload = ok; img.onerror = bad; img.src = 'data:image/png;base64,' + res.images[0]; });
  log.size = [img.naturalWidth, img.naturalHeight];
  return log;
};
window.tryFetch = async (api) => {
  try { await fetch(api + '/sdapi/v1/options'); return 'allowed'; } catch (e) { return 'refused'; }
};
</script>`;

function pageServer() {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(PAGE); });
    s.listen(0, '127.0.0.1', () => { origins.push(s); resolve(`http://127.0.0.1:${s.address().port}`); });
  });
}

function startMend(args) {
  return new Promise((resolve, reject) => {
    server = spawn(mendBin, ['serve', '--port', '0', '--threads', '2', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => reject(new Error(`mend serve did not start in 60 s:\n${log}`)), 60000);
    const onData = (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(`http://127.0.0.1:${m[1]}`); }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.once('exit', (code) => { clearTimeout(timer); reject(new Error(`mend serve exited (${code}):\n${log}`)); });
  });
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  for (const s of origins) s.close();
  if (server && server.exitCode === null) server.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  console.error('FAIL: the test took over 5 minutes');
  await cleanup();
  process.exit(1);
}, 5 * 60 * 1000);

try {
  const model = path.join(tmp, 'tiny.safetensors');
  const made = spawnSync(mendBin, ['tools', 'make-model', '--arch', 'sd1', '--size', 'tiny', '--dtype', 'f16',
    '--seed', '1', model], { encoding: 'utf8', timeout: 120000 });
  if (made.status !== 0) throw new Error(`make-model: ${made.stderr}`);
  const allowed = await pageServer(), other = await pageServer();
  // the allowed one by list, a third by regex (matched against the whole origin)
  const api = await startMend(['--model', model, '--vocab', vocab, '--cors-allow-origins', `http://a.example,${allowed}`,
    '--cors-allow-origins-regex', 'https://.*\\.example']);
  browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  await page.goto(allowed);
  const log = await page.evaluate((a) => window.drive(a), api);
  check(log.options && 'sd_model_checkpoint' in log.options, 'options read from another origin');
  check(Array.isArray(log.models) && log.models.length === 1, 'sd-models read from another origin');
  check(log.status === 200 && log.images === 1, `img2img from another origin returned an image (status ${log.status})`);
  check(Array.isArray(log.seeds) && log.seeds[0] === 7, `info.all_seeds readable (${JSON.stringify(log.seeds)})`);
  check(log.size && log.size[0] === 64 && log.size[1] === 64, `the result decodes as 64x64 (${log.size})`);
  check(log.polls > 0, `progress polled during the job (${log.polls} polls)`);
  const page2 = await browser.newPage();
  await page2.goto(other);
  check(await page2.evaluate((a) => window.tryFetch(a), api) === 'refused', 'a page from an origin not allowed is refused');
} catch (e) {
  check(false, `exception: ${e.stack || e}`);
}
clearTimeout(watchdog);
await cleanup();
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
