// Browser end-to-end test of the mend web page: starts `mend serve` with a
// tiny random-weight inpainting model on a free loopback port, drives the
// page in headless Debian chromium through playwright-core, and checks what a
// user would: painting, the three inpaint modes, progress, results, send to
// inpaint, PNG Info, and the phone layout.
//
// usage: node tests/e2e/run.mjs MEND_BIN SHARED_DIR [SCREENSHOT_DIR]
// Exit 0 pass, 1 fail, 77 skipped (no chromium / playwright-core / vocabulary).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, loadPlaywright, sharedFile, startMendServe } from './harness.mjs';

const TOTAL_TIMEOUT_MS = 10 * 60 * 1000;
const GENERATE_TIMEOUT_MS = 180 * 1000;
const STEP_TIMEOUT_MS = 20 * 1000;

const [mendBin, sharedDir, shotDirArg] = process.argv.slice(2);
if (!mendBin || !sharedDir) {
  console.error('usage: node run.mjs MEND_BIN SHARED_DIR [SCREENSHOT_DIR]');
  process.exit(2);
}
const shotDir = path.resolve(shotDirArg || 'e2e-screenshots');

const playwright = loadPlaywright();
const vocab = sharedFile(sharedDir, 'clip/bpe_simple_vocab_16e6.txt.gz');
const photo = sharedFile(sharedDir, 'images/chelsea-128.png');

/* ------------------------------------------------------------ harness */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mend-e2e-'));
let server = null;
let context = null;
let failures = 0;

function check(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures++;
}

async function cleanup() {
  if (context) await context.close().catch(() => {});
  context = null;
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => { const t = setTimeout(() => { server.kill('SIGKILL'); r(); }, 3000); server.once('exit', () => { clearTimeout(t); r(); }); });
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  console.error(`FAIL: the whole test took over ${TOTAL_TIMEOUT_MS / 1000} s`);
  await cleanup();
  process.exit(1);
}, TOTAL_TIMEOUT_MS);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, async () => { await cleanup(); process.exit(1); });
process.on('exit', () => { if (server && server.exitCode === null) server.kill('SIGKILL'); });

function run(args) {
  const r = spawnSync(mendBin, args, { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`${mendBin} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

function startServer(model) {
  const s = startMendServe(mendBin, ['--model', model, '--vocab', vocab, '--outputs', path.join(tmp, 'outputs')]);
  server = s.child;
  return s.port;
}

/* ------------------------------------------------------ page helpers */

// Image pixel (x, y) of an editor -> client coordinates (any zoom/pan).
async function clientPoint(page, editorSel, x, y) {
  return page.evaluate(([sel, px, py]) => {
    const c = document.querySelector(`${sel} canvas.layer`);
    const r = c.getBoundingClientRect();
    return { x: r.left + (px + 0.5) * r.width / c.width, y: r.top + (py + 0.5) * r.height / c.height };
  }, [editorSel, x, y]);
}

async function drag(page, editorSel, pts) {
  const first = await clientPoint(page, editorSel, ...pts[0]);
  await page.mouse.move(first.x, first.y);
  await page.mouse.down();
  for (const p of pts.slice(1)) {
    const c = await clientPoint(page, editorSel, ...p);
    await page.mouse.move(c.x, c.y, { steps: 8 });
  }
  await page.mouse.up();
}

async function setValue(page, sel, value) {
  await page.evaluate(([s, v]) => {
    const el = document.querySelector(s);
    el.value = v;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, [sel, String(value)]);
}

async function setSmallJob(page, prompt) {
  await page.fill('#prompt', prompt);
  await setValue(page, '#width_n', 128);
  await setValue(page, '#height_n', 128);
  await setValue(page, '#steps_n', 4);
  await setValue(page, '#seed', 1234);
}

// Clicks Generate, checks that the progress bar shows, waits for the gallery.
async function generate(page, what) {
  const before = await page.evaluate(() => window.mend.state.progressPolls);
  await page.click('#generate');
  await page.waitForSelector('#progress:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  check(true, `${what}: progress bar shown`);
  await page.waitForFunction(() => !window.mend.state.busy, null, { timeout: GENERATE_TIMEOUT_MS });
  const status = await page.textContent('#status');
  const n = await page.locator('#gallery figure').count();
  check(n >= 1, `${what}: a result in the gallery (status: ${status.trim()})`);
  const polls = await page.evaluate(() => window.mend.state.progressPolls);
  check(polls > before, `${what}: /progress polled while the job ran (${polls - before} polls)`);
  const label = await page.textContent('#progress-label');
  check(/done/.test(label), `${what}: progress bar ends with '${label}'`);
  return n;
}

// In the page: compares the first result with the input image outside the
// (dilated) mask; reports pixels counted, mismatches outside, changes inside.
async function compareOutsideMask(page, inputSrc, maskSrc, margin) {
  return page.evaluate(async ([inSrc, mSrc, marg]) => {
    const load = (src) => new Promise((res, rej) => { const i = new Image(); i.onload = () => res(i); i.onerror = rej; i.src = src; });
    const pixels = (img) => {
      const c = document.createElement('canvas');
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const ctx = c.getContext('2d');
      ctx.drawImage(img, 0, 0);
      return ctx.getImageData(0, 0, c.width, c.height);
    };
    const result = pixels(await load(window.mend.state.results[0].src));
    const input = pixels(await load(inSrc));
    const mask = pixels(await load(mSrc));
    if (result.width !== input.width || result.height !== input.height || mask.width !== input.width)
      return { error: `sizes: result ${result.width}x${result.height}, input ${input.width}x${input.height}, mask ${mask.width}x${mask.height}` };
    const w = input.width, h = input.height;
    const masked = (x, y) => mask.data[(y * w + x) * 4] > 0;
    let outside = 0, mismatches = 0, inside = 0, changedInside = 0, maxDiff = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let near = false;
      for (let dy = -marg; dy <= marg && !near; dy++) for (let dx = -marg; dx <= marg && !near; dx++) {
        const xx = x + dx, yy = y + dy;
        if (xx >= 0 && yy >= 0 && xx < w && yy < h && masked(xx, yy)) near = true;
      }
      const o = (y * w + x) * 4;
      let diff = 0;
      for (let c = 0; c < 3; c++) diff = Math.max(diff, Math.abs(result.data[o + c] - input.data[o + c]));
      if (!near) { outside++; if (diff) { mismatches++; maxDiff = Math.max(maxDiff, diff); } }
      if (masked(x, y)) { inside++; if (diff > 8) changedInside++; }
    }
    return { outside, mismatches, maxDiff, inside, changedInside };
  }, [inputSrc, maskSrc, margin]);
}

function checkComparison(what, r) {
  if (r.error) return check(false, `${what}: ${r.error}`);
  check(r.outside > 500 && r.mismatches === 0,
    `${what}: ${r.outside} pixels away from the mask equal the input (${r.mismatches} differ, max ${r.maxDiff})`);
  check(r.inside > 0 && r.changedInside > r.inside / 4,
    `${what}: the masked area was repainted (${r.changedInside}/${r.inside} pixels changed)`);
}

// The mask blur (4) spreads about 3 sigma, the latent mask one latent pixel (8).
const MARGIN = 16;

async function writeDataURL(page, expr, file) {
  const url = await page.evaluate(expr);
  fs.writeFileSync(file, Buffer.from(url.split(',')[1], 'base64'));
  return file;
}

/* --------------------------------------------------------------- tests */

async function testInpaint(page, photo) {
  await page.setInputFiles('#editor-inpaint .file-input', photo);
  await page.waitForSelector('#editor-inpaint .stage.has-image', { timeout: STEP_TIMEOUT_MS });
  await setValue(page, '#editor-inpaint .brush-size', 12);
  await drag(page, '#editor-inpaint', [[40, 40], [80, 50], [85, 80]]);
  check(await page.evaluate(() => window.mend.editors.inpaint.hasStrokes), 'inpaint: the drag painted the mask');
  // undo / redo / eraser / clear
  await page.click('#editor-inpaint .undo');
  check(!(await page.evaluate(() => window.mend.editors.inpaint.hasStrokes)), 'inpaint: undo removes the stroke');
  await page.click('#editor-inpaint .redo');
  check(await page.evaluate(() => window.mend.editors.inpaint.hasStrokes), 'inpaint: redo brings it back');
  await page.click('#editor-inpaint .clear');
  check(!(await page.evaluate(() => window.mend.editors.inpaint.hasStrokes)), 'inpaint: clear empties the mask');
  await page.click('#editor-inpaint .undo');
  await page.click('#editor-inpaint .tool-erase');
  await drag(page, '#editor-inpaint', [[20, 45], [110, 45]]);
  const erasedRow = await page.evaluate(() => {
    const ed = window.mend.editors.inpaint;
    const d = ed.layer.getContext('2d').getImageData(60, 45, 1, 1).data;
    return d[3];
  });
  check(erasedRow === 0, 'inpaint: the eraser clears painted pixels');
  await page.click('#editor-inpaint .tool-paint');
  // zoom in, paint, and check the stroke lands under the pointer
  await page.click('#editor-inpaint .zoom-in');
  await page.click('#editor-inpaint .zoom-in');
  await page.locator('#editor-inpaint .stage').scrollIntoViewIfNeeded();
  await drag(page, '#editor-inpaint', [[60, 70], [61, 70]]);
  const zoomed = await page.evaluate(() => window.mend.editors.inpaint.layer.getContext('2d').getImageData(60, 70, 1, 1).data[3]);
  check(zoomed === 255, 'inpaint: painting while zoomed lands on the pixel under the pointer');
  await page.click('#editor-inpaint .zoom-reset');

  const mask = await page.evaluate(() => window.mend.editors.inpaint.maskDataURL());
  const maskInfo = await page.evaluate(async (src) => {
    const i = new Image(); i.src = src; await i.decode();
    const c = document.createElement('canvas'); c.width = i.width; c.height = i.height;
    const ctx = c.getContext('2d'); ctx.drawImage(i, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let white = 0, other = 0;
    for (let k = 0; k < d.length; k += 4) if (d[k] === 255) white++; else if (d[k] !== 0) other++;
    return { w: i.width, h: i.height, white, other };
  }, mask);
  check(maskInfo.w === 128 && maskInfo.h === 128 && maskInfo.white > 100 && maskInfo.other === 0,
    `inpaint: the mask is binary at the image's size (${maskInfo.w}x${maskInfo.h}, ${maskInfo.white} white)`);

  await setSmallJob(page, 'a red knitted hat');
  await generate(page, 'inpaint');
  const src = await page.evaluate(() => window.mend.editors.inpaint.src);
  checkComparison('inpaint', await compareOutsideMask(page, src, mask, MARGIN));
  const info = await page.textContent('#result-info');
  check(/Steps: 4/.test(info) && /Seed: 1234/.test(info) && /Mask blur: 4/.test(info),
    `inpaint: the infotext is shown (${info.split('\n').pop().slice(0, 80)}…)`);
  await page.screenshot({ path: path.join(shotDir, 'inpaint.png'), fullPage: true });
}

async function testSketch(page, photo) {
  await page.click('.mode-tabs button[data-mode=sketch]');
  await page.setInputFiles('#editor-sketch .file-input', photo);
  await page.waitForSelector('#editor-sketch .stage.has-image', { timeout: STEP_TIMEOUT_MS });
  await setValue(page, '#editor-sketch .brush-size', 10);
  await setValue(page, '#editor-sketch .brush-color', '#ff2000');
  await setValue(page, '#mask_alpha_n', 30);
  await drag(page, '#editor-sketch', [[30, 90], [90, 95], [95, 60]]);
  const inputs = await page.evaluate(() => {
    const ed = window.mend.editors.sketch;
    const s = window.mend.sketchToInputs(ed.originalData(), ed.sketchData(), 30, 4);
    const values = new Set();
    for (let i = 0; i < s.mask.data.length; i += 4) values.add(s.mask.data[i]);
    const url = (d) => { const c = document.createElement('canvas'); c.width = d.width; c.height = d.height; c.getContext('2d').putImageData(d, 0, 0); return c.toDataURL(); };
    return { values: [...values].sort((a, b) => a - b), painted: s.painted, mask: url(s.mask), init: url(s.init) };
  });
  // 255 * float32(0.7) = 178.50001 -> 178 (Pillow's blend truncates)
  check(inputs.painted > 100 && inputs.values.join() === '0,178',
    `sketch: mask = painted pixels at transparency 30 (values ${inputs.values.join(',')})`);
  await setSmallJob(page, 'a red scarf');
  await generate(page, 'sketch');
  const orig = await page.evaluate(() => window.mend.editors.sketch.src);
  checkComparison('sketch', await compareOutsideMask(page, orig, inputs.mask, MARGIN));
  await page.screenshot({ path: path.join(shotDir, 'sketch.png'), fullPage: true });

  // Cross-check the JS sketch semantics (§2.2, incl. the Pillow blur) with
  // the C implementation of `mend inpaint --sketch`: same seed, same result.
  const sketchFile = await writeDataURL(page, () => {
    const ed = window.mend.editors.sketch;
    const d = ed.sketchData();
    const c = document.createElement('canvas'); c.width = d.width; c.height = d.height;
    c.getContext('2d').putImageData(d, 0, 0);
    return c.toDataURL();
  }, path.join(tmp, 'sketch.png'));
  const origFile = await writeDataURL(page, () => window.mend.editors.sketch.src, path.join(tmp, 'orig.png'));
  const sampler = await page.inputValue('#sampler');
  const cliOut = path.join(tmp, 'cli-sketch.png');
  run(['inpaint', '--model', path.join(tmp, 'tiny.safetensors'), '--vocab', vocab, '--init', origFile,
    '--sketch', sketchFile, '--mask-alpha', '30', '--mask-blur', '4', '--width', '128', '--height', '128',
    '--steps', '4', '--seed', '1234', '--sampler', sampler, '--threads', '2', '-o', cliOut, 'a red scarf']);
  const cliSrc = 'data:image/png;base64,' + fs.readFileSync(cliOut).toString('base64');
  const same = await page.evaluate(async (cli) => {
    const load = async (src) => { const i = new Image(); i.src = src; await i.decode(); const c = document.createElement('canvas'); c.width = i.width; c.height = i.height; const x = c.getContext('2d'); x.drawImage(i, 0, 0); return x.getImageData(0, 0, c.width, c.height).data; };
    const a = await load(window.mend.state.results[0].src), b = await load(cli);
    let max = 0, n = 0;
    for (let i = 0; i < a.length; i++) { const d = Math.abs(a[i] - b[i]); if (d) n++; max = Math.max(max, d); }
    return { max, n, len: a.length === b.length };
  }, cliSrc);
  check(same.len && same.max === 0,
    `sketch: the page's result equals \`mend inpaint --sketch\` (${same.n} values differ, max ${same.max})`);
}

async function testUpload(page, photo) {
  await page.click('.mode-tabs button[data-mode=upload]');
  const maskFile = await writeDataURL(page, () => {
    const c = document.createElement('canvas'); c.width = 128; c.height = 128;
    const x = c.getContext('2d');
    x.fillStyle = '#000'; x.fillRect(0, 0, 128, 128);
    x.fillStyle = '#fff'; x.fillRect(70, 20, 40, 30);
    return c.toDataURL();
  }, path.join(tmp, 'mask.png'));
  await page.setInputFiles('#upload-image', photo);
  await page.setInputFiles('#upload-mask', maskFile);
  await page.waitForFunction(() => window.mend.upload.image && window.mend.upload.mask, null, { timeout: STEP_TIMEOUT_MS });
  await setSmallJob(page, 'a bird');
  await generate(page, 'upload');
  const [img, mask] = await page.evaluate(() => [window.mend.upload.image, window.mend.upload.mask]);
  checkComparison('upload', await compareOutsideMask(page, img, mask, MARGIN));
  await page.screenshot({ path: path.join(shotDir, 'upload.png'), fullPage: true });
}

// A long job: the live preview shows, Interrupt ends it early with what it has.
async function testInterrupt(page) {
  await page.click('.mode-tabs button[data-mode=inpaint]');
  await drag(page, '#editor-inpaint', [[30, 30], [90, 90]]);
  await setValue(page, '#width_n', 256);
  await setValue(page, '#height_n', 256);
  await setValue(page, '#steps_n', 150);
  await setValue(page, '#n_iter_n', 3);
  const previews = await page.evaluate(() => window.mend.state.previews);
  const t0 = Date.now();
  await page.click('#generate');
  await page.waitForFunction(() => /step [1-9]\d*\/\d+/.test(document.querySelector('#progress-label').textContent) &&
    !document.querySelector('#live-preview').hidden, null, { timeout: GENERATE_TIMEOUT_MS });
  const label = await page.textContent('#progress-label');
  check(/ETA [\d.]+ s/.test(label), `interrupt: the progress bar shows steps and ETA ('${label}')`);
  check(await page.evaluate((n) => window.mend.state.previews > n, previews), 'interrupt: the live preview is shown');
  await page.screenshot({ path: path.join(shotDir, 'progress.png') });
  await page.click('#interrupt');
  await page.waitForFunction(() => !window.mend.state.busy, null, { timeout: GENERATE_TIMEOUT_MS });
  const n = await page.locator('#gallery figure').count();
  const status = await page.textContent('#status');
  check(n === 1, `interrupt: the job ends early with the image it had (${n} of 3 batches, ${Date.now() - t0} ms, ${status.trim()})`);
  await setValue(page, '#n_iter_n', 1);
}

async function testSendToInpaint(page) {
  const resultSrc = await page.evaluate(() => window.mend.state.results[0].src);
  await page.click('#gallery figure .send-to-inpaint');
  await page.waitForFunction((src) => window.mend.editors.inpaint.src === src, resultSrc, { timeout: STEP_TIMEOUT_MS });
  const st = await page.evaluate(() => ({
    mode: window.mend.state.mode,
    visible: !!document.querySelector('[data-mode-panel=inpaint].active'),
    strokes: window.mend.editors.inpaint.hasStrokes,
  }));
  check(st.mode === 'inpaint' && st.visible && !st.strokes, 'send to inpaint: the result is the new input, mask cleared');
}

async function testPngInfo(page) {
  const resultFile = await writeDataURL(page, () => window.mend.state.results[0].src, path.join(tmp, 'result.png'));
  const seed = await page.evaluate(() => window.mend.state.results[0].seed);
  // change the form so "send to inpaint" visibly fills it back
  await page.fill('#prompt', 'something else');
  await setValue(page, '#steps_n', 20);
  await setValue(page, '#seed', -1);
  await page.click('.main-tabs button[data-tab=pnginfo-page]');
  await page.setInputFiles('#png-file', resultFile);
  await page.waitForFunction(() => /Steps:/.test(document.querySelector('#png-info-text').textContent), null, { timeout: STEP_TIMEOUT_MS });
  const text = await page.textContent('#png-info-text');
  check(/^a bird\n/.test(text) && /Steps: 4/.test(text), 'png info: the parameters of the result are shown');
  const rows = await page.locator('#png-params tr').count();
  check(rows >= 5, `png info: parsed parameters table (${rows} rows)`);
  await page.screenshot({ path: path.join(shotDir, 'pnginfo.png'), fullPage: true });
  await page.click('#png-send');
  await page.waitForFunction(() => document.querySelector('#inpaint-page').classList.contains('active'), null, { timeout: STEP_TIMEOUT_MS });
  const form = await page.evaluate(() => ({
    prompt: document.querySelector('#prompt').value, steps: document.querySelector('#steps_n').value,
    seed: document.querySelector('#seed').value, width: document.querySelector('#width_n').value,
    image: window.mend.editors.inpaint.hasImage,
  }));
  check(form.prompt === 'a bird' && form.steps === '4' && form.seed === String(seed) && form.width === '128' && form.image,
    `png info → send to inpaint fills the form (${JSON.stringify(form)})`);
}

async function testPhone(page, photo) {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#sampler').options.length > 1, null, { timeout: STEP_TIMEOUT_MS });
  const overflow = await page.evaluate(() => document.scrollingElement.scrollWidth);
  check(overflow <= 390, `phone: no horizontal scrolling (page width ${overflow})`);
  await page.setInputFiles('#editor-inpaint .file-input', photo);
  await page.waitForSelector('#editor-inpaint .stage.has-image', { timeout: STEP_TIMEOUT_MS });
  const box = await page.locator('#editor-inpaint .stage').boundingBox();
  check(box.width > 300 && box.width <= 390, `phone: the canvas fills the width (${Math.round(box.width)} px)`);
  // a touch stroke (pointer events with pointerType touch)
  const pts = [];
  for (const [x, y] of [[20, 20], [60, 30], [100, 40]]) pts.push(await clientPoint(page, '#editor-inpaint', x, y));
  await page.evaluate((points) => {
    const st = document.querySelector('#editor-inpaint .stage');
    const ev = (type, p) => new PointerEvent(type, { bubbles: true, cancelable: true, pointerId: 7, pointerType: 'touch', isPrimary: true, button: 0, buttons: type === 'pointerup' ? 0 : 1, clientX: p.x, clientY: p.y });
    st.dispatchEvent(ev('pointerdown', points[0]));
    for (const p of points.slice(1)) st.dispatchEvent(ev('pointermove', p));
    st.dispatchEvent(ev('pointerup', points[points.length - 1]));
  }, pts);
  check(await page.evaluate(() => window.mend.editors.inpaint.hasStrokes), 'phone: a touch stroke paints the mask');
  await page.screenshot({ path: path.join(shotDir, 'phone.png'), fullPage: true });
}

/* ---------------------------------------------------------------- main */

async function main() {
  fs.mkdirSync(shotDir, { recursive: true });
  const model = path.join(tmp, 'tiny.safetensors');
  run(['tools', 'make-model', '--arch', 'sd1-inpaint', '--size', 'tiny', '--dtype', 'f16', model]);
  const port = await startServer(model);
  const origin = `http://127.0.0.1:${port}`;
  console.log(`mend serve on ${origin}`);

  context = await playwright.chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    timeout: 60000,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  // Nothing leaves 127.0.0.1:port.
  let blocked = 0;
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(origin + '/') || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    blocked++;
    return route.abort();
  });
  const page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

  await page.goto(origin + '/', { timeout: STEP_TIMEOUT_MS });
  await page.waitForFunction(() => document.querySelector('#sampler').options.length > 1 &&
    document.querySelector('#model').options.length > 0, null, { timeout: STEP_TIMEOUT_MS });
  const defaults = await page.evaluate(() => ({
    sampler: document.querySelector('#sampler').value, scheduler: document.querySelector('#scheduler').value,
    steps: document.querySelector('#steps_n').value, cfg: document.querySelector('#cfg_scale_n').value,
    w: document.querySelector('#width_n').value, den: document.querySelector('#denoising_strength_n').value,
    blur: document.querySelector('#mask_blur_n').value, pad: document.querySelector('#padding_n').value,
    fill: document.querySelector('input[name=inpainting_fill]:checked').value,
    area: document.querySelector('input[name=inpaint_area]:checked').value,
    seed: document.querySelector('#seed').value, model: document.querySelector('#model').value,
  }));
  check(defaults.sampler === 'DPM++ 2M' && defaults.scheduler === 'Automatic' && defaults.steps === '20' &&
    defaults.cfg === '7' && defaults.w === '512' && defaults.den === '0.75' && defaults.blur === '4' &&
    defaults.pad === '32' && defaults.fill === '1' && defaults.area === '0' && defaults.seed === '-1',
    `A1111 UI defaults (${JSON.stringify(defaults)})`);
  check(defaults.model === 'tiny.safetensors', `model list and current checkpoint (${defaults.model})`);
  /* every control's range, step and default is the parameter table's (GET /mend/v1/params) */
  const ranges = await page.evaluate(async () => {
    const table = (await (await fetch('/mend/v1/params')).json()).params;
    const bad = [];
    let n = 0;
    for (const el of document.querySelectorAll('input[type=range][data-param]')) {
      const p = table.find((t) => t.name === el.dataset.param);
      const box = document.getElementById(el.id + '_n');
      n++;
      if (!p || Number(box.min) !== p.min || Number(box.max) !== p.max || Number(box.step) !== p.step ||
          Number(el.max) !== p.max) bad.push(el.id);
    }
    const fill = table.find((t) => t.name === 'inpainting_fill');
    if (document.querySelectorAll('input[name=inpainting_fill]').length !== fill.choices.length) bad.push('fill');
    const rm = table.find((t) => t.name === 'resize_mode');
    if (document.querySelector('#resize_mode').options.length !== rm.choices.length) bad.push('resize_mode');
    return { n, bad };
  });
  check(ranges.n >= 10 && ranges.bad.length === 0,
    `controls built from /mend/v1/params (${ranges.n} sliders, wrong: ${ranges.bad.join(', ') || 'none'})`);

  await testInpaint(page, photo);
  await testSketch(page, photo);
  await testUpload(page, photo);
  await testSendToInpaint(page);
  await testPngInfo(page);
  await testInterrupt(page);
  await testPhone(page, photo);

  check(pageErrors.length === 0, `no errors in the page${pageErrors.length ? ': ' + pageErrors.join(' | ') : ''}`);
  check(blocked === 0, `no request left 127.0.0.1 (${blocked} blocked)`);
}

let code = 0;
try {
  await main();
  code = failures ? 1 : 0;
  console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
} catch (e) {
  console.error(`FAIL: ${e.stack || e}`);
  code = 1;
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
console.log(`screenshots in ${shotDir}`);
process.exit(code);
