/* mend web page: A1111-style img2img inpaint (Inpaint / Inpaint sketch /
 * Inpaint upload) and PNG Info, talking to the /sdapi/v1 API of `mend serve`.
 * Plain browser JS, no build step, no dependencies; the page's scripts share
 * one global scope and load in order (index.html): util, params, sketch,
 * editor, generate, pnginfo, then this one, which builds the form, the mode
 * tabs and the uploads, fills the model and sampler menus, and starts. */
'use strict';

/* ------------------------------------------------------------- the form */

/* The form's sliders by element id (the parameter's name, but 'padding'). */
const num = {};
for (const el of $$('[data-slider]')) {
  const id = buildSlider(el);
  num[id] = linkedNumber(id);
}

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

/* ---------------------------------------------------------------- start */

/* the table first: the sampler menus take their defaults from it */
const ready = loadParams().catch((e) => setStatus(e.message, true)).then(loadLists);
/* For the end-to-end tests and the console. */
window.mend = { editors, state, upload, sketchToInputs, pilGaussianBlur, applyParameters };
