/* mend web page, shared helpers: DOM lookups, the /sdapi/v1 API calls with
 * A1111's error shapes, the status line, file and image reading. Loaded
 * first; every other script of the page uses these. */
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const API = '/sdapi/v1';

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
