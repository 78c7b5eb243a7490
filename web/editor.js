/* mend web page: the image editor of Inpaint and Inpaint sketch (canvas,
 * mask or sketch strokes, zoom and pan, undo). */
'use strict';

/* --------------------------------------------------------------- editor
 * An image on a base canvas and a stroke layer above it, both at the
 * image's resolution, inside a .view that is zoomed and panned with a CSS
 * transform. Strokes are kept as a list, so undo/redo replays them.
 * kind 'mask': white strokes, shown as a translucent overlay (CSS opacity);
 * kind 'sketch': coloured opaque strokes that become the image. */
/* The toolbar buttons of both editors: [class, label, title]; where a title
 * is a function it names what the editor paints (the mask or strokes). */
const EDITOR_TOOLS = [
  ['tool-paint active', '✎ Paint', (what) => (what === 'mask' ? 'Paint the mask (B)' : 'Paint (B)')],
  ['tool-erase', '⌫ Eraser', (what) => `Erase ${what === 'mask' ? 'the mask' : 'strokes'} (E)`],
  ['tool-pan', '✥ Pan', 'Pan (hold Space)'],
  ['undo', '↶', 'Undo (Ctrl+Z)'],
  ['redo', '↷', 'Redo (Ctrl+Y)'],
  ['clear', 'Clear', (what) => `Clear the ${what === 'mask' ? 'mask' : 'strokes'}`],
  ['zoom-in', '+', 'Zoom in (Alt+wheel)'],
  ['zoom-out', '−', 'Zoom out'],
  ['zoom-reset', 'Fit', 'Fit (R)'],
  ['remove-image', '✕', 'Remove the image'],
];

/* Fills an empty .editor element with its toolbar and stage: both editors
 * share one layout, the sketch one adds a colour picker. */
function buildEditorMarkup(root, kind) {
  const bar = document.createElement('div');
  bar.className = 'toolbar';
  bar.innerHTML = '<label>Brush <input type="range" class="brush-size" min="1" max="256" value="24">' +
    '<output class="brush-size-out">24</output></label>' +
    (kind === 'sketch' ? '<label>Colour <input type="color" class="brush-color" value="#ffffff"></label>' : '');
  for (const [cls, label, title] of EDITOR_TOOLS) {
    const b = document.createElement('button');
    b.className = cls;
    b.textContent = label;
    b.title = typeof title === 'function' ? title(kind) : title;
    bar.appendChild(b);
  }
  const stage = document.createElement('div');
  stage.className = 'stage';
  stage.tabIndex = 0;
  stage.innerHTML = '<div class="drop-hint">Drop an image here, paste it (Ctrl+V) or <label class="linklike">' +
    'choose a file<input type="file" accept="image/*" class="file-input" hidden></label></div>' +
    `<div class="view"><canvas class="base"></canvas><canvas class="layer${kind === 'mask' ? ' mask-layer' : ''}"></canvas></div>`;
  root.append(bar, stage);
}

class Editor {
  constructor(root, kind) {
    buildEditorMarkup(root, kind);
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
