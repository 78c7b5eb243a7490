/* mend web page: running a job (POST /img2img), its progress bar and live
 * preview (polling /progress), interrupt and skip, and the gallery of
 * results. */
'use strict';

const PROGRESS_POLL_MS = 500;

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
