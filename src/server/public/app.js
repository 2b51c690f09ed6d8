// rsclip web page: plain ES module, no framework, no network beyond this server.
const $ = (id) => document.getElementById(id);
const els = {
  form: $('search-form'), q: $('q'), imageInput: $('image-input'), pickLabel: $('pick-label'),
  toggleFilters: $('toggle-filters'), filters: $('filters'),
  folder: $('f-folder'), path: $('f-path'), format: $('f-format'), fields: $('f-fields'),
  collapse: $('f-collapse'), exact: $('f-exact'), token: $('f-token'),
  status: $('status'), error: $('error'), empty: $('empty'), intro: $('intro'),
  results: $('results'), loadMore: $('load-more'), overlay: $('drop-overlay'),
  viewer: $('viewer'), viewerTitle: $('viewer-title'), viewerImage: $('viewer-image'), viewerMeta: $('viewer-meta'),
  viewerOpen: $('viewer-open'), viewerPrev: $('viewer-prev'), viewerNext: $('viewer-next'),
  moreLikeThis: $('more-like-this'), viewerClose: $('viewer-close'),
};
const PAGE_SIZE = 40;
const TOKEN_KEY = 'rsclip.token';

/** The current query: how to fetch its next page, and the hits shown so far. */
const state = { describe: '', fetchPage: null, cursor: undefined, hits: [], viewing: -1, controller: null };

els.token.value = window.localStorage.getItem(TOKEN_KEY) ?? '';
els.token.addEventListener('change', () => {
  window.localStorage.setItem(TOKEN_KEY, els.token.value.trim());
});

function token() {
  return els.token.value.trim();
}

/** Adds the token to URLs an <img> loads (it cannot send an Authorization header). */
function withToken(url) {
  const t = token();
  if (!t) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(t)}`;
}

function filterParams() {
  const specs = [];
  if (els.folder.value.trim()) specs.push(`folder=${els.folder.value.trim()}`);
  if (els.path.value.trim()) specs.push(`path=${els.path.value.trim()}`);
  if (els.format.value) specs.push(`format=${els.format.value}`);
  for (const part of els.fields.value.split(';')) {
    if (part.includes('=')) specs.push(part.trim());
  }
  const params = new URLSearchParams();
  for (const spec of specs) params.append('filter', spec);
  if (els.collapse.checked) params.set('collapse', 'true');
  if (els.exact.checked) params.set('exact', 'true');
  return params;
}

async function api(url, init = {}) {
  const headers = { ...init.headers };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(url, { ...init, headers });
  const body = response.headers.get('content-type')?.includes('application/json') ? await response.json() : undefined;
  if (!response.ok) {
    const error = new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
    error.status = response.status;
    error.code = body?.error?.code;
    throw error;
  }
  return body;
}

function setStatus(text, loading = false) {
  els.status.textContent = text;
  els.status.classList.toggle('loading', loading);
}

function showError(error) {
  let text = error.message;
  if (error.status === 401) {
    text += ' Enter the server token under Filters.';
    els.filters.hidden = false;
    els.toggleFilters.setAttribute('aria-expanded', 'true');
    els.token.focus();
  }
  els.error.textContent = text;
  els.error.hidden = false;
}

function scoreText(score) {
  return score.toFixed(3);
}

function card(hit, index) {
  const li = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'card';
  button.dataset.index = String(index);
  button.dataset.id = String(hit.id);
  button.setAttribute('aria-label', `${hit.path}, score ${scoreText(hit.score)}`);
  const img = document.createElement('img');
  img.loading = 'lazy';
  img.alt = hit.path;
  img.width = 256;
  img.height = 256;
  img.src = withToken(`api/images/${hit.id}/thumbnail`);
  const caption = document.createElement('span');
  caption.className = 'caption';
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = hit.fileName;
  name.title = hit.path;
  const score = document.createElement('span');
  score.className = 'score';
  score.textContent = scoreText(hit.score);
  caption.append(name, score);
  button.append(img, caption);
  if (hit.duplicates?.length) {
    const dups = document.createElement('span');
    dups.className = 'dups';
    dups.textContent = `+${hit.duplicates.length} near-duplicate${hit.duplicates.length > 1 ? 's' : ''}`;
    button.append(dups);
  }
  button.addEventListener('click', () => openViewer(index));
  li.append(button);
  return li;
}

/** Forgets the current query and its results (a new query starts, or one could not start). */
function clearResults() {
  state.controller?.abort();
  state.cursor = undefined;
  state.hits = [];
  els.results.replaceChildren();
  els.loadMore.hidden = true;
  els.empty.hidden = true;
  els.intro.hidden = true;
  setStatus('');
}

/** Starts a new query: `fetchPage(cursor, signal)` returns a SearchPage. */
async function runQuery(describe, fetchPage) {
  clearResults();
  state.describe = describe;
  state.fetchPage = fetchPage;
  await loadPage();
}

async function loadPage() {
  const controller = new AbortController();
  state.controller = controller;
  els.error.hidden = true;
  els.empty.hidden = true;
  els.loadMore.hidden = true;
  setStatus(`Searching ${state.describe}…`, true);
  try {
    const page = await state.fetchPage(state.cursor, controller.signal);
    if (controller.signal.aborted) return;
    const start = state.hits.length;
    state.hits.push(...page.hits);
    els.results.append(...page.hits.map((hit, i) => card(hit, start + i)));
    state.cursor = page.nextCursor;
    els.loadMore.hidden = !page.nextCursor;
    els.empty.hidden = state.hits.length > 0;
    const filtered = page.filtered === undefined ? '' : ` (${page.filtered === 1 ? '1 image passes' : `${page.filtered} images pass`} the filters)`;
    const ms = Math.round(page.timings.embedMs + page.timings.searchMs);
    setStatus(`${state.hits.length} result${state.hits.length === 1 ? '' : 's'} for ${state.describe}${filtered}, ${ms} ms`);
    if (start === 0) els.results.querySelector('button')?.focus({ preventScroll: true });
  } catch (error) {
    if (error.name === 'AbortError') return;
    setStatus('');
    showError(error);
  }
}

function searchText(text) {
  const params = filterParams();
  params.set('q', text);
  params.set('k', String(PAGE_SIZE));
  history.replaceState(null, '', `?q=${encodeURIComponent(text)}`);
  return runQuery(`“${text}”`, (cursor, signal) => {
    if (cursor) params.set('cursor', cursor);
    return api(`api/search?${params}`, { signal });
  });
}

function searchImage(file) {
  if (!file.type.startsWith('image/') && file.type !== '') {
    // the results on screen belong to the previous query, not to this file
    clearResults();
    showError(new Error(`${file.name} is not an image (${file.type}).`));
    return;
  }
  const params = filterParams();
  params.set('k', String(PAGE_SIZE));
  history.replaceState(null, '', location.pathname);
  return runQuery(`images like ${file.name}`, (cursor, signal) => {
    if (cursor) params.set('cursor', cursor);
    const form = new FormData();
    form.append('image', file, file.name);
    return api(`api/search/image?${params}`, { method: 'POST', body: form, signal });
  });
}

function searchSimilar(hit) {
  const params = filterParams();
  params.set('k', String(PAGE_SIZE));
  history.replaceState(null, '', location.pathname);
  return runQuery(`images like ${hit.fileName}`, (cursor, signal) => {
    if (cursor) params.set('cursor', cursor);
    return api(`api/images/${hit.id}/similar?${params}`, { signal });
  });
}

function addMeta(dt, dd) {
  if (dd === null || dd === undefined || dd === '') return;
  const term = document.createElement('dt');
  term.textContent = dt;
  const value = document.createElement('dd');
  value.textContent = Array.isArray(dd) ? dd.join(', ') : String(dd);
  els.viewerMeta.append(term, value);
}

async function openViewer(index) {
  const hit = state.hits[index];
  if (!hit) return;
  state.viewing = index;
  els.viewerTitle.textContent = hit.path;
  els.viewerImage.src = withToken(`api/images/${hit.id}/file`);
  els.viewerImage.alt = hit.path;
  els.viewerOpen.href = withToken(`api/images/${hit.id}/file`);
  els.viewerPrev.disabled = index === 0;
  els.viewerNext.disabled = index === state.hits.length - 1;
  els.viewerMeta.replaceChildren();
  addMeta('Score', scoreText(hit.score));
  addMeta('Rank', hit.rank);
  if (!els.viewer.open) els.viewer.showModal();
  els.moreLikeThis.focus();
  try {
    const meta = await api(`api/images/${hit.id}`);
    if (state.viewing !== index) return;
    addMeta('Size', meta.width && meta.height ? `${meta.width} × ${meta.height} px` : undefined);
    addMeta('Format', meta.format);
    addMeta('Bytes', meta.bytes.toLocaleString());
    addMeta('Modified', new Date(meta.modified).toLocaleString());
    for (const [name, value] of Object.entries(meta.fields)) addMeta(name, value);
    if (hit.duplicates?.length) addMeta('Near-duplicates', hit.duplicates.map((d) => d.path));
  } catch (error) {
    addMeta('Error', error.message);
  }
}

function closeViewer() {
  if (els.viewer.open) els.viewer.close();
}

els.viewer.addEventListener('close', () => {
  els.results.querySelector(`button[data-index="${state.viewing}"]`)?.focus();
});
els.viewerClose.addEventListener('click', closeViewer);
els.viewerPrev.addEventListener('click', () => openViewer(state.viewing - 1));
els.viewerNext.addEventListener('click', () => openViewer(state.viewing + 1));
els.moreLikeThis.addEventListener('click', () => {
  const hit = state.hits[state.viewing];
  closeViewer();
  if (hit) searchSimilar(hit);
});
els.viewer.addEventListener('keydown', (event) => {
  if (event.key === 'ArrowLeft' && state.viewing > 0) openViewer(state.viewing - 1);
  else if (event.key === 'ArrowRight' && state.viewing < state.hits.length - 1) openViewer(state.viewing + 1);
  else return;
  event.preventDefault();
});
// a click on the backdrop (outside the dialog box) closes the viewer
els.viewer.addEventListener('click', (event) => {
  if (event.target === els.viewer) closeViewer();
});

els.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = els.q.value.trim();
  if (!text) {
    showError(new Error('Type what you are looking for, or search by image.'));
    els.q.focus();
    return;
  }
  searchText(text);
});
els.loadMore.addEventListener('click', () => loadPage());
els.imageInput.addEventListener('change', () => {
  const file = els.imageInput.files?.[0];
  if (file) searchImage(file);
  els.imageInput.value = '';
});
els.pickLabel.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    els.imageInput.click();
  }
});
els.toggleFilters.addEventListener('click', () => {
  els.filters.hidden = !els.filters.hidden;
  els.toggleFilters.setAttribute('aria-expanded', String(!els.filters.hidden));
});

// arrow keys move between result cards; the column count comes from the laid-out grid
els.results.addEventListener('keydown', (event) => {
  const current = event.target.closest?.('button.card');
  if (!current) return;
  const columns = window.getComputedStyle(els.results).gridTemplateColumns.split(' ').length;
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns }[event.key];
  if (step === undefined) return;
  const next = els.results.querySelector(`button[data-index="${Number(current.dataset.index) + step}"]`);
  if (next) {
    event.preventDefault();
    next.focus();
  }
});

let dragDepth = 0;
document.addEventListener('dragenter', (event) => {
  if (!event.dataTransfer?.types.includes('Files')) return;
  dragDepth++;
  els.overlay.hidden = false;
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) els.overlay.hidden = true;
});
document.addEventListener('dragover', (event) => event.preventDefault());
document.addEventListener('drop', (event) => {
  event.preventDefault();
  dragDepth = 0;
  els.overlay.hidden = true;
  const file = event.dataTransfer?.files?.[0];
  if (file) searchImage(file);
});

const initial = new URLSearchParams(location.search).get('q');
if (initial) {
  els.q.value = initial;
  searchText(initial);
}
