/* mend web page: the controls built from the library's parameter table
 * (GET /mend/v1/params). Loaded before app.js, which uses params,
 * buildSlider, loadParams and fitParam. */
'use strict';

/* Every control's label, range, step, default and choices come from the
 * library's one parameter table (GET /mend/v1/params): nothing about them
 * is written in this file or in index.html. Controls name their parameter
 * with data-param (and data-label for the label text). */
const params = {}; /* name -> table entry */

function buildRadios(box, p) {
  const name = box.id;
  p.choices.forEach((label, i) => {
    const l = document.createElement('label');
    const r = document.createElement('input');
    r.type = 'radio';
    r.name = name;
    r.value = String(i);
    r.checked = Number(p.default) === i;
    l.append(r, ` ${label}`);
    box.appendChild(l);
  });
}

function configureControl(el, p) {
  if (el.classList.contains('radios')) return buildRadios(el, p);
  if (el.tagName === 'SELECT') {
    p.choices.forEach((label, i) => {
      const o = document.createElement('option');
      o.value = String(i);
      o.textContent = label;
      el.appendChild(o);
    });
    el.value = String(p.default);
    return;
  }
  const boxes = [el, document.getElementById(el.id + '_n')].filter(Boolean);
  for (const b of boxes) {
    b.min = p.min;
    b.max = p.max;
    b.step = p.step;
  }
  const box = boxes[boxes.length - 1];
  if (box.value === '') box.value = p.default; /* a value set before the table came stays */
  el.value = box.value;
}

/* Fills a <label data-slider="PARAM" [data-id="ID"]> with its label text,
 * a range slider (id ID, default PARAM) and a number box (ID_n), like
 * Gradio's sliders; range and default come later, from loadParams. Returns ID. */
function buildSlider(el) {
  const name = el.dataset.slider, id = el.dataset.id || name;
  el.innerHTML = `<span class="label" data-label="${name}"></span> ` +
    `<input type="range" id="${id}" data-param="${name}"><input type="number" id="${id}_n">`;
  return id;
}

async function loadParams() {
  const res = await fetch('/mend/v1/params');
  if (!res.ok) throw new Error(`parameter table: HTTP ${res.status}`);
  for (const p of (await res.json()).params) params[p.name] = p;
  for (const el of document.querySelectorAll('[data-label]')) if (params[el.dataset.label]) el.textContent = params[el.dataset.label].label;
  for (const el of document.querySelectorAll('[data-param]')) if (params[el.dataset.param]) configureControl(el, params[el.dataset.param]);
}

/* A value clamped to its parameter's range and rounded to its step. */
function fitParam(name, v) {
  const p = params[name];
  const stepped = p.min + Math.round((v - p.min) / p.step) * p.step;
  return Math.min(p.max, Math.max(p.min, stepped));
}

