/* mend web page: the PNG Info tab (POST /png-info) and "Send to inpaint",
 * which fills the form from an infotext by the table's infotext keys. */
'use strict';

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
