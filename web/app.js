/* mend web page: A1111-style img2img inpaint (Inpaint / Inpaint sketch /
 * Inpaint upload) and PNG Info, talking to the /sdapi/v1 API of `mend serve`.
 * Plain browser JS, no build step, no dependencies. */
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const API = '/sdapi/v1';
const PROGRESS_POLL_MS = 500;

/* ------------------------------------------------------------------ API */

function errorText(status, body) {
  if (body && typeof body === 'object') {
    if (Array.isArray(body.detail)) /* FastAPI validation errors */
      return body.detail.map((d) => `${(d.loc || []).join('.')}: ${d.msg}`).join('\n');
    if (body.detail || body.errors || body.error)
      return String(body.detail || body.errors || body.error);
  }
  return `HTTP ${status}`;
}

async function api(path, body) {
  const init = body === undefined ? {} :
    { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  const res = await fetch(API + path, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!res.ok) throw new Error(errorText(res.status, json));
  return json;
}

function setStatus(text, isError = false) {
  const el = $('#status');
  el.textContent = text;
  el.classList.toggle('error', isError);
}

/* ------------------------------------------------------------ utilities */

function readFileAsDataURL(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(new Error(`cannot read ${file.name}`));
    r.readAsDataURL(file);
  });
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('not an image the browser can decode'));
    img.src = src;
  });
}

function newCanvas(w, h) {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  return c;
}

function imageFromClipboard(e) {
  for (const item of (e.clipboardData && e.clipboardData.items) || [])
    if (item.kind === 'file' && item.type.startsWith('image/')) return item.getAsFile();
  return null;
}

function firstImageFile(dataTransfer) {
  for (const f of (dataTransfer && dataTransfer.files) || [])
    if (f.type.startsWith('image/')) return f;
  return null;
}

const b64png = (b64) => (b64.startsWith('data:') ? b64 : 'data:image/png;base64,' + b64);

/* A range slider paired with a number box (id and id_n), like Gradio's sliders. */
function linkedNumber(id) {
  const range = document.getElementById(id);
  const num = document.getElementById(id + '_n');
  range.addEventListener('input', () => { num.value = range.value; });
  num.addEventListener('input', () => { if (num.value !== '') range.value = num.value; });
  return {
    get value() { return Number(num.value === '' ? range.value : num.value); },
    set value(v) { num.value = v; range.value = v; },
  };
}

/* --------------------------------------------- Pillow's GaussianBlur in JS
 * Inpaint sketch (inpaint-semantics.md §2.2) composites the sketch with
 * PIL's GaussianBlur, which is 3 passes of an "extended" box blur (§3.3b):
 * box radius l + a with fractional edge weights, 8-bit rounding after every
 * pass, 3 horizontal passes then 3 vertical, edge pixels extended. This is
 * a re-implementation of that algorithm (Pillow's BoxBlur.c arithmetic with
 * 24-bit fixed-point weights), not a generic Gaussian. */

function pilBoxRadius(radius, passes) {
  const f = Math.fround;
  const sigma2 = f(f(radius * radius) / passes);
  const L = f(Math.sqrt(12.0 * sigma2 + 1.0));
  const l = Math.floor((L - 1.0) / 2.0);
  let a = f((2 * l + 1) * (l * (l + 1) - 3 * sigma2));
  a = f(a / (6 * (sigma2 - (l + 1) * (l + 1))));
  return f(l + a);
}

/* One pass along rows of a planar uint8 image (w x h, `stride` between rows,
 * `step` between pixels, so columns are rows of the transposed view). */
function boxBlurLines(buf, count, len, lineStride, step, floatRadius) {
  const r = Math.floor(floatRadius);
  const ww = Math.floor(Math.fround(16777216 / Math.fround(floatRadius * 2 + 1)));
  const fw = Math.floor((16777216 - (r * 2 + 1) * ww) / 2);
  const line = new Uint8Array(len);
  const last = len - 1;
  for (let i = 0; i < count; i++) {
    const base = i * lineStride;
    for (let x = 0; x < len; x++) line[x] = buf[base + x * step];
    let acc = 0; /* sum of line[clamp(x+k)] for k in -r..r */
    for (let k = -r; k <= r; k++) acc += line[Math.min(Math.max(k, 0), last)];
    for (let x = 0; x < len; x++) {
      const far = line[Math.max(x - r - 1, 0)] + line[Math.min(x + r + 1, last)];
      const bulk = acc * ww + far * fw;
      buf[base + x * step] = Math.floor((bulk + 8388608) / 16777216);
      acc += line[Math.min(x + r + 1, last)] - line[Math.max(x - r, 0)];
    }
  }
}

/* Blurs planar channels in place: planes is an array of Uint8Array(w*h). */
function pilGaussianBlur(planes, w, h, radius) {
  if (!(radius > 0)) return;
  const fr = pilBoxRadius(radius, 3);
  for (const p of planes) {
    for (let pass = 0; pass < 3; pass++) boxBlurLines(p, h, w, w, 1, fr);
    for (let pass = 0; pass < 3; pass++) boxBlurLines(p, w, h, 1, w, fr);
  }
}

/* Inpaint sketch -> (init image, mask), exactly as inpaint-semantics.md §2.2:
 * mask = 255 where any RGB channel differs, scaled by (1 - transparency/100)
 * with Pillow's float32 blend and truncation; init = composite(blur(sketch),
 * orig, blur(mask)) with Pillow's paste rounding; the mask handed on is the
 * unblurred one. orig/sketch are RGBA ImageData of the same size. */
function sketchToInputs(orig, sketch, transparency, blurRadius) {
  const w = orig.width, h = orig.height, n = w * h;
  const factor = Math.fround(1 - transparency / 100);
  const maskValue = Math.trunc(Math.fround(factor * 255));
  const mask = new Uint8Array(n);
  let painted = 0;
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    if (orig.data[o] !== sketch.data[o] || orig.data[o + 1] !== sketch.data[o + 1] ||
        orig.data[o + 2] !== sketch.data[o + 2]) {
      mask[i] = maskValue;
      painted++;
    }
  }
  const blurredMask = Uint8Array.from(mask);
  const planes = [0, 1, 2].map((c) => {
    const p = new Uint8Array(n);
    for (let i = 0; i < n; i++) p[i] = sketch.data[i * 4 + c];
    return p;
  });
  pilGaussianBlur([blurredMask, ...planes], w, h, blurRadius);
  const init = new ImageData(w, h);
  for (let i = 0; i < n; i++) {
    const m = blurredMask[i];
    for (let c = 0; c < 3; c++) {
      const t = orig.data[i * 4 + c] * (255 - m) + planes[c][i] * m + 128; /* Pillow's DIV255 */
      init.data[i * 4 + c] = ((t >> 8) + t) >> 8;
    }
    init.data[i * 4 + 3] = 255;
  }
  const maskImage = new ImageData(w, h);
  for (let i = 0; i < n; i++) {
    maskImage.data[i * 4] = maskImage.data[i * 4 + 1] = maskImage.data[i * 4 + 2] = mask[i];
    maskImage.data[i * 4 + 3] = 255;
  }
  return { init, mask: maskImage, painted };
}

function imageDataToDataURL(data) {
  const c = newCanvas(data.width, data.height);
  c.getContext('2d').putImageData(data, 0, 0);
  return c.toDataURL('image/png');
}

/* --------------------------------------------------------------- editor
 * An image on a base canvas and a stroke layer above it, both at the
 * image's resolution, inside a .view that is zoomed and panned with a CSS
 * transform. Strokes are kept as a list, so undo/redo replays them.
 * kind 'mask': white strokes, shown as a translucent overlay (CSS opacity);
 * kind 'sketch': coloured opaque strokes that become the image. */
class Editor {
  constructor(root, kind) {
    this.root = root;
    this.kind = kind;
    this.stage = $('.stage', root);
    this.view = $('.view', root);
    this.base = $('canvas.base', root);
    this.layer = $('canvas.layer', root);
    this.cursor = document.createElement('div');
    this.cursor.className = 'brush-cursor';
    this.stage.appendChild(this.cursor);
    this.strokes = [];
    this.redoStack = [];
    this.tool = 'paint';
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    this.src = null; /* data URL of the loaded image (sent as is in Inpaint mode) */
    this.active = null; /* stroke being drawn */
    this.pan = null; /* pan drag state */
    this.spaceHeld = false;
    this.onchange = () => {};
    this.bindToolbar();
    this.bindPointer();
    this.bindDrop();
    this.setTool('paint');
  }

  get width() { return this.base.width; }
  get height() { return this.base.height; }
  get hasImage() { return this.src !== null; }
  get brushSize() { return Number($('.brush-size', this.root).value); }
  get color() { return this.kind === 'mask' ? '#ffffff' : $('.brush-color', this.root).value; }

  bindToolbar() {
    const size = $('.brush-size', this.root), out = $('.brush-size-out', this.root);
    size.addEventListener('input', () => { out.textContent = size.value; });
    $('.tool-paint', this.root).onclick = () => this.setTool('paint');
    $('.tool-erase', this.root).onclick = () => this.setTool('erase');
    $('.tool-pan', this.root).onclick = () => this.setTool('pan');
    $('.undo', this.root).onclick = () => this.undo();
    $('.redo', this.root).onclick = () => this.redo();
    $('.clear', this.root).onclick = () => this.clear();
    $('.zoom-in', this.root).onclick = () => this.zoomAt(1.25);
    $('.zoom-out', this.root).onclick = () => this.zoomAt(0.8);
    $('.zoom-reset', this.root).onclick = () => this.fit();
    $('.remove-image', this.root).onclick = () => this.unload();
    $('.file-input', this.root).addEventListener('change', (e) => {
      if (e.target.files[0]) this.loadFile(e.target.files[0]);
      e.target.value = '';
    });
    this.stage.addEventListener('keydown', (e) => this.onKey(e));
    this.stage.addEventListener('keyup', (e) => { if (e.code === 'Space') this.spaceHeld = false; });
    new ResizeObserver(() => { if (this.hasImage && this.zoom === this.fitZoom) this.fit(); }).observe(this.stage);
  }

  onKey(e) {
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && e.key.toLowerCase() === 'z') { e.shiftKey ? this.redo() : this.undo(); }
    else if (ctrl && e.key.toLowerCase() === 'y') this.redo();
    else if (e.code === 'Space') this.spaceHeld = true;
    else if (e.key === 'b') this.setTool('paint');
    else if (e.key === 'e') this.setTool('erase');
    else if (e.key === 'r') this.fit();
    else if (e.key === '[' || e.key === ']') {
      const s = $('.brush-size', this.root);
      s.value = Math.max(1, Math.min(256, this.brushSize + (e.key === ']' ? 4 : -4)));
      s.dispatchEvent(new Event('input'));
    } else return;
    e.preventDefault();
  }

  setTool(tool) {
    this.tool = tool;
    for (const t of ['paint', 'erase', 'pan']) {
      $('.tool-' + t, this.root).classList.toggle('active', t === tool);
      this.stage.classList.toggle('tool-' + t, t === tool);
    }
  }

  async loadFile(file) {
    try {
      await this.load(await readFileAsDataURL(file));
    } catch (e) {
      setStatus(`${file.name}: ${e.message}`, true);
    }
  }

  /* Loads an image (data URL); strokes and history are cleared. */
  async load(src) {
    const img = await loadImage(src);
    const w = img.naturalWidth, h = img.naturalHeight;
    this.base.width = this.layer.width = w;
    this.base.height = this.layer.height = h;
    const ctx = this.base.getContext('2d');
    ctx.clearRect(0, 0, w, h);
    ctx.drawImage(img, 0, 0);
    this.src = src;
    this.strokes = [];
    this.redoStack = [];
    this.redraw();
    this.view.style.width = w + 'px';
    this.view.style.height = h + 'px';
    this.stage.classList.add('has-image');
    this.fit();
    this.onchange();
  }

  unload() {
    this.src = null;
    this.strokes = [];
    this.redoStack = [];
    this.stage.classList.remove('has-image');
    this.onchange();
  }

  /* ---- view transform ---- */
  get fitZoom() {
    const r = this.stage.getBoundingClientRect();
    return Math.min(r.width / this.width, r.height / this.height);
  }

  fit() {
    if (!this.hasImage) return;
    const r = this.stage.getBoundingClientRect();
    this.zoom = this.fitZoom;
    this.panX = (r.width - this.width * this.zoom) / 2;
    this.panY = (r.height - this.height * this.zoom) / 2;
    this.applyView();
  }

  /* Zooms by factor about a stage point (default: the stage's centre). */
  zoomAt(factor, sx, sy) {
    if (!this.hasImage) return;
    const r = this.stage.getBoundingClientRect();
    if (sx === undefined) { sx = r.width / 2; sy = r.height / 2; }
    const z = Math.min(64, Math.max(0.05, this.zoom * factor));
    this.panX = sx - (sx - this.panX) * (z / this.zoom);
    this.panY = sy - (sy - this.panY) * (z / this.zoom);
    this.zoom = z;
    this.applyView();
  }

  applyView() {
    this.view.style.transform = `translate(${this.panX}px, ${this.panY}px) scale(${this.zoom})`;
  }

  /* Client coordinates -> image pixel coordinates (any zoom/pan). */
  toImage(e) {
    const r = this.layer.getBoundingClientRect();
    return { x: (e.clientX - r.left) * this.width / r.width, y: (e.clientY - r.top) * this.height / r.height };
  }

  /* ---- painting ---- */
  bindPointer() {
    const st = this.stage;
    st.addEventListener('pointerdown', (e) => {
      if (!this.hasImage) return;
      st.focus({ preventScroll: true });
      const panning = this.tool === 'pan' || this.spaceHeld || e.button === 1;
      if (!panning && e.button !== 0) return;
      try {
        st.setPointerCapture(e.pointerId); /* keep the stroke when the pointer leaves the stage */
      } catch (err) {
        /* synthetic events have no capturable pointer; painting works without */
      }
      e.preventDefault();
      if (panning) {
        this.pan = { id: e.pointerId, x: e.clientX, y: e.clientY, px: this.panX, py: this.panY };
        st.classList.add('panning');
        return;
      }
      if (this.active) return; /* a second finger does not start another stroke */
      const p = this.toImage(e);
      this.active = { id: e.pointerId, erase: this.tool === 'erase', size: this.brushSize, color: this.color, points: [p] };
      this.drawStroke(this.layer.getContext('2d'), this.active);
    });
    st.addEventListener('pointermove', (e) => {
      this.moveCursor(e);
      if (this.pan && e.pointerId === this.pan.id) {
        this.panX = this.pan.px + e.clientX - this.pan.x;
        this.panY = this.pan.py + e.clientY - this.pan.y;
        this.applyView();
        return;
      }
      if (!this.active || e.pointerId !== this.active.id) return;
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
      const ctx = this.layer.getContext('2d');
      for (const ev of events.length ? events : [e]) {
        const pts = this.active.points;
        pts.push(this.toImage(ev));
        this.drawStroke(ctx, { ...this.active, points: pts.slice(-2) });
      }
    });
    const end = (e) => {
      if (this.pan && e.pointerId === this.pan.id) {
        this.pan = null;
        st.classList.remove('panning');
      }
      if (this.active && e.pointerId === this.active.id) {
        const { id, ...stroke } = this.active;
        this.active = null;
        this.strokes.push(stroke);
        this.redoStack = [];
        this.redraw(); /* replaying keeps the layer identical to what undo/redo will draw */
        this.onchange();
      }
    };
    st.addEventListener('pointerup', end);
    st.addEventListener('pointercancel', end);
    st.addEventListener('pointerleave', () => { this.cursor.style.display = 'none'; });
    st.addEventListener('wheel', (e) => {
      if (!this.hasImage || !(e.altKey || e.ctrlKey)) return; /* plain wheel scrolls the page */
      e.preventDefault();
      const r = st.getBoundingClientRect();
      this.zoomAt(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
  }

  moveCursor(e) {
    if (!this.hasImage || this.tool === 'pan' || e.pointerType === 'touch') {
      this.cursor.style.display = 'none';
      return;
    }
    const r = this.stage.getBoundingClientRect();
    const d = this.brushSize * this.layer.getBoundingClientRect().width / this.width;
    Object.assign(this.cursor.style, {
      display: 'block', width: d + 'px', height: d + 'px',
      left: (e.clientX - r.left - d / 2) + 'px', top: (e.clientY - r.top - d / 2) + 'px',
    });
  }

  drawStroke(ctx, s) {
    ctx.save();
    if (s.clear) {
      ctx.clearRect(0, 0, this.width, this.height);
      ctx.restore();
      return;
    }
    ctx.globalCompositeOperation = s.erase ? 'destination-out' : 'source-over';
    ctx.strokeStyle = ctx.fillStyle = s.color;
    ctx.lineWidth = s.size;
    ctx.lineCap = ctx.lineJoin = 'round';
    const pts = s.points;
    ctx.beginPath();
    if (pts.length === 1) {
      ctx.arc(pts[0].x, pts[0].y, s.size / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.moveTo(pts[0].x, pts[0].y);
      for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i].x, pts[i].y);
      ctx.stroke();
    }
    ctx.restore();
  }

  redraw() {
    const ctx = this.layer.getContext('2d');
    ctx.clearRect(0, 0, this.width, this.height);
    for (const s of this.strokes) this.drawStroke(ctx, s);
  }

  undo() {
    if (!this.strokes.length) return;
    this.redoStack.push(this.strokes.pop());
    this.redraw();
    this.onchange();
  }

  redo() {
    if (!this.redoStack.length) return;
    this.strokes.push(this.redoStack.pop());
    this.redraw();
    this.onchange();
  }

  clear() {
    if (!this.strokes.length || this.strokes[this.strokes.length - 1].clear) return;
    this.strokes.push({ clear: true }); /* undoable */
    this.redoStack = [];
    this.redraw();
    this.onchange();
  }

  get hasStrokes() {
    const d = this.layer.getContext('2d').getImageData(0, 0, this.width, this.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
    return false;
  }

  /* The mask for the API: white = repaint, black elsewhere, at the image's
   * size; stroke alpha > 128 counts as painted (A1111's create_binary_mask
   * on the Gradio stroke layer, §2.1), so the mask is binary. */
  maskDataURL() {
    const src = this.layer.getContext('2d').getImageData(0, 0, this.width, this.height);
    const out = new ImageData(this.width, this.height);
    for (let i = 0; i < src.data.length; i += 4) {
      const v = src.data[i + 3] > 128 ? 255 : 0;
      out.data[i] = out.data[i + 1] = out.data[i + 2] = v;
      out.data[i + 3] = 255;
    }
    return imageDataToDataURL(out);
  }

  originalData() {
    return this.base.getContext('2d').getImageData(0, 0, this.width, this.height);
  }

  /* The painted picture (original with the strokes on top). */
  sketchData() {
    const c = newCanvas(this.width, this.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(this.base, 0, 0);
    ctx.drawImage(this.layer, 0, 0);
    return ctx.getImageData(0, 0, this.width, this.height);
  }

  bindDrop() {
    const st = this.stage;
    st.addEventListener('dragover', (e) => { e.preventDefault(); st.classList.add('dragover'); });
    st.addEventListener('dragleave', () => st.classList.remove('dragover'));
    st.addEventListener('drop', (e) => {
      e.preventDefault();
      st.classList.remove('dragover');
      const f = firstImageFile(e.dataTransfer);
      if (f) this.loadFile(f);
    });
  }
}

/* ------------------------------------------------------------- the form */

const num = {};
for (const id of ['mask_blur', 'padding', 'steps', 'width', 'height', 'n_iter', 'batch_size', 'cfg_scale',
  'denoising_strength', 'mask_alpha']) num[id] = linkedNumber(id);

const radio = (name) => Number($(`input[name=${name}]:checked`).value);
const setRadio = (name, value) => { const r = $(`input[name=${name}][value="${value}"]`); if (r) r.checked = true; };

const editors = {
  inpaint: new Editor($('#editor-inpaint'), 'mask'),
  sketch: new Editor($('#editor-sketch'), 'sketch'),
};
const upload = { image: null, mask: null };
const state = {
  mode: 'inpaint', busy: false, results: [], selected: -1, lastSeeds: [], progressPolls: 0, previews: 0, pollTimer: null,
};

function selectMainTab(id) {
  for (const b of $$('.main-tabs button')) {
    const on = b.dataset.tab === id;
    b.classList.toggle('active', on);
    b.setAttribute('aria-selected', on);
  }
  for (const p of $$('.page')) p.classList.toggle('active', p.id === id);
  if (id === 'inpaint-page') for (const ed of Object.values(editors)) ed.fit();
}

function selectMode(mode) {
  state.mode = mode;
  for (const b of $$('.mode-tabs button')) {
    const on = b.dataset.mode === mode;
    b.classList.toggle('active', on);
    b.setAttribute('aria-selected', on);
  }
  for (const p of $$('.mode-panel')) p.classList.toggle('active', p.dataset.modePanel === mode);
  if (editors[mode]) editors[mode].fit();
}

for (const b of $$('.main-tabs button')) b.onclick = () => selectMainTab(b.dataset.tab);
for (const b of $$('.mode-tabs button')) b.onclick = () => selectMode(b.dataset.mode);

async function setUploadFile(which, file) {
  try {
    upload[which] = await readFileAsDataURL(file);
    await loadImage(upload[which]); /* fail early on undecodable files */
    $(`#upload-${which}-preview`).src = upload[which];
  } catch (e) {
    upload[which] = null;
    setStatus(`${file.name}: ${e.message}`, true);
  }
}

for (const which of ['image', 'mask']) {
  const input = $(`#upload-${which}`), box = $(`#upload-${which}-box`);
  input.addEventListener('change', () => { if (input.files[0]) setUploadFile(which, input.files[0]); });
  box.addEventListener('dragover', (e) => e.preventDefault());
  box.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = firstImageFile(e.dataTransfer);
    if (f) setUploadFile(which, f);
  });
}

document.addEventListener('paste', (e) => {
  const f = imageFromClipboard(e);
  if (!f) return;
  e.preventDefault();
  if ($('#pnginfo-page').classList.contains('active')) readPngInfo(f);
  else if (editors[state.mode]) editors[state.mode].loadFile(f);
  else setUploadFile('image', f);
});

function currentInputSize() {
  if (editors[state.mode]) return editors[state.mode].hasImage ? [editors[state.mode].width, editors[state.mode].height] : null;
  return null;
}

$('#size-from-image').onclick = async () => {
  let size = currentInputSize();
  if (!size && state.mode === 'upload' && upload.image) {
    const img = await loadImage(upload.image);
    size = [img.naturalWidth, img.naturalHeight];
  }
  if (!size) return setStatus('no input image yet', true);
  num.width.value = fitParam('width', size[0]);
  num.height.value = fitParam('height', size[1]);
};

$('#seed-random').onclick = () => { $('#seed').value = -1; };
$('#seed-reuse').onclick = () => {
  const r = state.results[state.selected];
  const seed = r && r.seed !== undefined ? r.seed : state.lastSeeds[0];
  if (seed !== undefined) $('#seed').value = seed;
};

/* Init image and mask of the selected mode (data URLs), or throws. */
function modeInputs() {
  if (state.mode === 'upload') {
    if (!upload.image) throw new Error('Inpaint upload: choose an image');
    if (!upload.mask) throw new Error('Inpaint upload: choose a mask');
    return { init: upload.image, mask: upload.mask };
  }
  const ed = editors[state.mode];
  if (!ed.hasImage) throw new Error('Load an image first (drop, paste or choose a file)');
  if (state.mode === 'inpaint') return { init: ed.src, mask: ed.maskDataURL() };
  const s = sketchToInputs(ed.originalData(), ed.sketchData(), num.mask_alpha.value, num.mask_blur.value);
  return { init: imageDataToDataURL(s.init), mask: imageDataToDataURL(s.mask) };
}

function requestBody() {
  const { init, mask } = modeInputs();
  return {
    init_images: [init],
    mask,
    prompt: $('#prompt').value,
    negative_prompt: $('#negative_prompt').value,
    resize_mode: Number($('#resize_mode').value),
    mask_blur: num.mask_blur.value,
    inpainting_mask_invert: radio('mask_mode'),
    inpainting_fill: radio('inpainting_fill'),
    inpaint_full_res: radio('inpaint_area') === 1,
    inpaint_full_res_padding: num.padding.value,
    sampler_name: $('#sampler').value,
    scheduler: $('#scheduler').value,
    steps: num.steps.value,
    width: num.width.value,
    height: num.height.value,
    n_iter: num.n_iter.value,
    batch_size: num.batch_size.value,
    cfg_scale: num.cfg_scale.value,
    denoising_strength: num.denoising_strength.value,
    seed: Number($('#seed').value || -1),
    send_images: true,
    save_images: false,
  };
}

/* ----------------------------------------------------- generate/progress */

function showProgress(p) {
  $('#progress').hidden = false;
  const pct = Math.round(Math.min(1, Math.max(0, p.progress || 0)) * 100);
  $('#progress-fill').style.width = pct + '%';
  const st = p.state || {};
  let label = `${pct}%`;
  if (st.sampling_steps) label += ` · step ${st.sampling_step}/${st.sampling_steps}`;
  if (st.job_count > 1) label += ` · batch ${st.job_no + 1}/${st.job_count}`;
  if (p.eta_relative > 0) label += ` · ETA ${p.eta_relative.toFixed(1)} s`;
  $('#progress-label').textContent = label;
  if (p.current_image) {
    state.previews++;
    const img = $('#live-preview');
    img.src = b64png(p.current_image);
    img.hidden = false;
  }
}

async function pollProgress() {
  if (state.polling) return; /* never two requests in flight */
  state.polling = true;
  try {
    const p = await api('/progress?skip_current_image=false');
    if (state.busy && p) {
      state.progressPolls++;
      if (p.state && p.state.job_count !== 0) showProgress(p);
    }
  } catch (e) {
    /* a failed poll is not fatal; the next one may succeed */
  } finally {
    state.polling = false;
  }
}

function setBusy(busy) {
  state.busy = busy;
  $('#generate').disabled = busy;
  $('#interrupt').disabled = !busy;
  $('#skip').disabled = !busy;
  if (busy) {
    $('#progress').hidden = false;
    $('#progress-fill').style.width = '0%';
    $('#progress-label').textContent = 'waiting…';
    $('#live-preview').hidden = true;
    pollProgress();
    state.pollTimer = setInterval(pollProgress, PROGRESS_POLL_MS);
  } else {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }
}

async function generate() {
  await ready;
  let body;
  try {
    body = requestBody();
  } catch (e) {
    return setStatus(e.message, true);
  }
  setBusy(true);
  setStatus('generating…');
  const t0 = performance.now();
  try {
    const res = await api('/img2img', body);
    const info = typeof res.info === 'string' ? JSON.parse(res.info) : res.info || {};
    showResults(res.images || [], info);
    const fill = $('#progress-fill');
    fill.style.transition = 'none'; /* jump to full: the job is over */
    fill.style.width = '100%';
    void fill.offsetWidth;
    fill.style.transition = '';
    $('#progress-label').textContent = `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    setStatus(`${(res.images || []).length} image(s)`);
  } catch (e) {
    $('#progress-label').textContent = 'failed';
    setStatus(e.message, true);
  } finally {
    setBusy(false);
    $('#live-preview').hidden = true;
  }
}

$('#generate').onclick = generate;
$('#interrupt').onclick = () => api('/interrupt', {}).catch((e) => setStatus(e.message, true));
$('#skip').onclick = () => api('/skip', {}).catch((e) => setStatus(e.message, true));
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === 'Enter' && !state.busy) { e.preventDefault(); generate(); }
});

/* ------------------------------------------------------------- gallery */

function showResults(images, info) {
  const first = info.index_of_first_image || 0; /* a grid, when there is one, comes first */
  const seeds = info.all_seeds || [];
  state.lastSeeds = seeds;
  state.results = images.map((b64, i) => ({
    src: b64png(b64),
    infotext: (info.infotexts || [])[i] || '',
    seed: i >= first ? seeds[i - first] : undefined,
    grid: i < first,
  }));
  const gal = $('#gallery');
  gal.textContent = '';
  state.results.forEach((r, i) => {
    const fig = document.createElement('figure');
    const img = document.createElement('img');
    img.src = r.src;
    img.alt = r.grid ? 'grid' : `result ${i + 1}`;
    img.onclick = () => selectResult(i);
    const cap = document.createElement('figcaption');
    cap.textContent = r.grid ? 'grid' : `Seed: ${r.seed}`;
    const buttons = document.createElement('div');
    buttons.className = 'buttons';
    const send = document.createElement('button');
    send.textContent = 'Send to inpaint';
    send.className = 'send-to-inpaint';
    send.onclick = () => sendToInpaint(r.src);
    const dl = document.createElement('a');
    dl.textContent = 'Download';
    dl.className = 'download';
    dl.href = r.src;
    dl.download = `mend-${r.seed !== undefined ? r.seed : 'grid'}-${i}.png`;
    buttons.append(send, dl);
    fig.append(img, cap, buttons);
    gal.appendChild(fig);
  });
  selectResult(first < state.results.length ? first : 0);
}

function selectResult(i) {
  state.selected = i;
  $$('#gallery figure').forEach((f, k) => f.classList.toggle('selected', k === i));
  $('#result-info').textContent = state.results[i] ? state.results[i].infotext : '';
}

async function sendToInpaint(src) {
  selectMainTab('inpaint-page');
  selectMode('inpaint');
  try {
    await editors.inpaint.load(src);
    setStatus('sent to inpaint');
  } catch (e) {
    setStatus(e.message, true);
  }
}

/* --------------------------------------------------- models, samplers */

async function loadLists() {
  try {
    const [samplers, schedulers] = await Promise.all([api('/samplers'), api('/schedulers')]);
    fillSelect($('#sampler'), samplers.map((s) => s.name), params.sampler_name && params.sampler_name.default);
    fillSelect($('#scheduler'), schedulers.map((s) => s.label), params.scheduler && params.scheduler.default);
  } catch (e) {
    setStatus(`samplers: ${e.message}`, true);
  }
  try {
    const [models, options] = await Promise.all([api('/sd-models'), api('/options')]);
    const current = options && options.sd_model_checkpoint;
    fillSelect($('#model'), models.map((m) => m.title), current);
    if (current && !models.some((m) => m.title === current)) fillSelect($('#model'), [...models.map((m) => m.title), current], current);
  } catch (e) {
    $('#model-status').textContent = `models: ${e.message}`;
  }
}

function fillSelect(sel, values, preferred) {
  sel.textContent = '';
  for (const v of values) {
    const o = document.createElement('option');
    o.value = o.textContent = v;
    sel.appendChild(o);
  }
  if (preferred !== undefined && values.includes(preferred)) sel.value = preferred;
}

function ensureOption(sel, value) {
  if (![...sel.options].some((o) => o.value === value)) {
    const o = document.createElement('option');
    o.value = o.textContent = value;
    sel.appendChild(o);
  }
  sel.value = value;
}

$('#model').addEventListener('change', async (e) => {
  const title = e.target.value;
  const status = $('#model-status');
  status.textContent = 'loading…';
  e.target.disabled = true;
  try {
    await api('/options', { sd_model_checkpoint: title });
    status.textContent = 'loaded';
  } catch (err) {
    status.textContent = err.message;
  } finally {
    e.target.disabled = false;
  }
});

/* ------------------------------------------------------------ PNG Info */

let pngInfo = null; /* { src, parameters } */

async function readPngInfo(file) {
  try {
    const src = await readFileAsDataURL(file);
    $('#png-preview').src = src;
    const res = await api('/png-info', { image: src });
    pngInfo = { src, parameters: res.parameters || {} };
    $('#png-info-text').textContent = res.info || '(no parameters in this image)';
    const table = $('#png-params');
    table.textContent = '';
    for (const [k, v] of Object.entries(pngInfo.parameters)) {
      const tr = table.insertRow();
      tr.insertCell().textContent = k;
      tr.insertCell().textContent = typeof v === 'string' ? v : JSON.stringify(v);
    }
    $('#png-send').disabled = false;
  } catch (e) {
    $('#png-info-text').textContent = `${file.name}: ${e.message}`;
    $('#png-send').disabled = true;
  }
}

$('#png-file').addEventListener('change', (e) => { if (e.target.files[0]) readPngInfo(e.target.files[0]); });
$('#png-drop').addEventListener('dragover', (e) => e.preventDefault());
$('#png-drop').addEventListener('drop', (e) => {
  e.preventDefault();
  const f = firstImageFile(e.dataTransfer);
  if (f) readPngInfo(f);
});

/* Fills the form from parse_generation_parameters() output (values are
 * strings), by the table's infotext keys. Keys absent from an infotext mean
 * the UI default: A1111 writes Masked content only when not "original",
 * Inpaint area only for "Only masked", Mask mode only for "Inpaint not
 * masked". */
function applyParameters(p) {
  const has = (k) => k && p[k] !== undefined && p[k] !== null && p[k] !== '';
  if (has('Prompt')) $('#prompt').value = p.Prompt;
  const neg = params.negative_prompt && params.negative_prompt.infotext_key;
  $('#negative_prompt').value = has(neg) ? p[neg] : '';
  for (const el of $$('[data-param]')) {
    const d = params[el.dataset.param];
    if (!d || !d.infotext_key) continue;
    /* "Size: 512x768" arrives as Size-1 / Size-2 */
    const key = d.name === 'width' ? `${d.infotext_key}-1` : d.name === 'height' ? `${d.infotext_key}-2` : d.infotext_key;
    if (d.choices) {
      const i = has(key) ? d.choices.indexOf(p[key]) : -1;
      const v = i >= 0 ? i : Number(d.default);
      if (el.classList.contains('radios')) setRadio(el.id, v);
      else el.value = String(v);
    } else if (has(key) && !Number.isNaN(Number(p[key]))) {
      if (num[el.id]) num[el.id].value = Number(p[key]);
      else el.value = Number(p[key]);
    }
  }
  const sampler = params.sampler_name && params.sampler_name.infotext_key;
  const schedule = params.scheduler && params.scheduler.infotext_key;
  if (has(sampler)) ensureOption($('#sampler'), p[sampler]);
  if (has(schedule)) ensureOption($('#scheduler'), p[schedule]);
}

$('#png-send').onclick = async () => {
  if (!pngInfo) return;
  applyParameters(pngInfo.parameters);
  await sendToInpaint(pngInfo.src);
};

/* ---------------------------------------------------------------- start */

/* the table first: the sampler menus take their defaults from it */
const ready = loadParams().catch((e) => setStatus(e.message, true)).then(loadLists);
/* For the end-to-end tests and the console. */
window.mend = { editors, state, upload, sketchToInputs, pilGaussianBlur, applyParameters };
