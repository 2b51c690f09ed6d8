// rsclip web page: plain ES modules, no framework, nothing from the network beyond this server
// (and the basemap, when the server names one). The URL holds the query (texts and #ids in the
// CLI's syntax), the filters, the area and the open item, so Back/Forward, reload and links work.
// An uploaded query image cannot travel in a URL: the history entry keeps it, the URL names it,
// and a link opened without it says so.
/* global FileReader */
import { downloadHits } from './export-hits.js';
import { createMapView } from './map-view.js';
import { boundedTerms, describeTerms, parseTerms, renderChips, serializeTerms, termsJson } from './query-terms.js';
import { createSceneViewer } from './scene-viewer.js';

const $ = (id) => document.getElementById(id);
const els = {
  form: $('search-form'), q: $('q'), addTerms: $('add-terms'), imageInput: $('image-input'), pickLabel: $('pick-label'),
  toggleFilters: $('toggle-filters'), filters: $('filters'),
  folder: $('f-folder'), path: $('f-path'), format: $('f-format'), fields: $('f-fields'),
  pageSize: $('f-k'), collapse: $('f-collapse'), exact: $('f-exact'), token: $('f-token'),
  terms: $('terms'), chipNote: $('chip-note'), status: $('status'), error: $('error'), missingImages: $('missing-images'), empty: $('empty'),
  intro: $('intro'), summary: $('index-summary'), failedList: $('failed-list'), sample: $('sample'),
  toolbar: $('toolbar'), selectAll: $('select-all'), selectedCount: $('selected-count'), exportFormat: $('export-format'),
  exportSelected: $('export-selected'), exportAll: $('export-all'), toggleMap: $('toggle-map'),
  mapPanel: $('map-panel'), map: $('map'), searchArea: $('search-area'), drawArea: $('draw-area'), mapNote: $('map-note'),
  results: $('results'), loadMore: $('load-more'), overlay: $('drop-overlay'),
  viewer: $('viewer'), viewerTitle: $('viewer-title'), viewerOpen: $('viewer-open'), viewerPrev: $('viewer-prev'), viewerNext: $('viewer-next'),
  moreLikeThis: $('more-like-this'), viewerGood: $('viewer-good'), viewerBad: $('viewer-bad'), viewerClose: $('viewer-close'),
};
const DEFAULT_PAGE_SIZE = 40;
/** Longer result lists lay out only the cards near the screen (content-visibility in app.css). */
const LONG_LIST = 100;
const EXPORT_PAGE = 500;
const EXPORT_MAX = 5000;
const FEEDBACK_WEIGHT = 0.5;
const SLOW_QUERY_MS = 1500;
const TOKEN_KEY = 'rsclip.token';

const state = {
  terms: [],
  /** [west, south, east, north] from "search this area" or a drawn rectangle. */
  bbox: null,
  hits: [],
  cursor: undefined,
  viewing: -1,
  /** The item the viewer shows: a hit of the list (at `viewing`), or an item a link named that the pages loaded do not hold (`viewing` -1). */
  viewingHit: null,
  /** What the page could not use in its URL (run() says so and searches nothing); a new query from the page clears them. */
  urlProblems: [],
  /** Parameters of the link the page does not know (a typo, or a tracker's utm_source): said beside the results. */
  urlIgnored: [],
  /** Weights of the query not taken as written (boundedTerms): said under the chips. */
  termNotes: [],
  /** Counts run() calls: what arrives for an older one is dropped. */
  runs: 0,
  controller: null,
  selected: new Set(),
  lastChecked: -1,
  /** Item id -> file name, for chips and the status line. */
  names: new Map(),
  map: null,
  showMap: true,
  basemap: null,
};

els.token.value = window.localStorage.getItem(TOKEN_KEY) ?? '';
els.token.addEventListener('change', () => window.localStorage.setItem(TOKEN_KEY, els.token.value.trim()));

const token = () => els.token.value.trim();

/** Adds the token to URLs an <img> loads (it cannot send an Authorization header). */
function withToken(url) {
  const t = token();
  return t ? `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(t)}` : url;
}

async function api(url, init = {}) {
  const headers = { ...init.headers };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  let response;
  let body;
  try {
    response = await fetch(url, { ...init, headers });
    body = response.headers.get('content-type')?.includes('json') ? await response.json() : undefined;
  } catch (error) {
    // a network failure is a TypeError in every browser (an abort, a malformed body are not)
    if (error.name !== 'TypeError') throw error;
    // the browser's own words ("Failed to fetch", "NetworkError when attempting to fetch resource") say nothing a user can act on
    const unreachable = new Error(`The rsclip server cannot be reached (it may have stopped, be restarting, or the network is down). Check that “rsclip serve” is running, then try again.`);
    unreachable.cause = error;
    throw unreachable;
  }
  if (!response.ok) {
    const error = new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
    error.status = response.status;
    error.code = body?.error?.code;
    throw error;
  }
  return body;
}

const nameOf = (id) => state.names.get(id) ?? `#${id}`;

// ---- filters and the URL --------------------------------------------------------------------

function filterSpecs() {
  const specs = [];
  if (els.folder.value.trim()) specs.push(`folder=${els.folder.value.trim()}`);
  if (els.path.value.trim()) specs.push(`path=${els.path.value.trim()}`);
  if (els.format.value) specs.push(`format=${els.format.value}`);
  // every part, with a "=" or not: the server names a part it cannot read (dropping it would show unfiltered results)
  for (const part of els.fields.value.split(';')) if (part.trim()) specs.push(part.trim());
  return specs;
}

function setFilterSpecs(specs) {
  els.folder.value = '';
  els.path.value = '';
  els.format.value = '';
  const rest = [];
  for (const spec of specs) {
    const [key, ...value] = spec.split('=');
    if (key === 'folder') els.folder.value = value.join('=');
    else if (key === 'path') els.path.value = value.join('=');
    else if (key === 'format' && [...els.format.options].some((o) => o.value === value.join('='))) els.format.value = value.join('=');
    else rest.push(spec);
  }
  els.fields.value = rest.join('; ');
}

const pageSize = () => Number(els.pageSize.value);

/** Sets the results-per-page control; a size from a URL that the list lacks is added to it (the server says when it is too large). */
function setPageSize(k) {
  const size = Number.isInteger(k) && k >= 1 ? k : DEFAULT_PAGE_SIZE;
  if (![...els.pageSize.options].some((o) => Number(o.value) === size)) els.pageSize.add(new window.Option(String(size), String(size)));
  els.pageSize.value = String(size);
}

/** The filters as the query string of POST /api/search (and of the page's URL). */
function filterParams() {
  const params = new URLSearchParams();
  for (const spec of filterSpecs()) params.append('filter', spec);
  if (state.bbox) params.set('bbox', state.bbox.join(','));
  return params;
}

/** POST /api/search for the current terms and options; the filters travel in the query string. */
function searchPage(k, cursor, signal) {
  const body = { terms: termsJson(state.terms), k, ...(cursor ? { cursor } : {}), ...(els.collapse.checked ? { collapse: true } : {}), ...(els.exact.checked ? { exact: true } : {}) };
  return api(`api/search?${filterParams()}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal });
}

/** The page's state as a URL: the query's texts and ids, filters, area, and the open item. */
function stateUrl() {
  const params = filterParams();
  if (els.collapse.checked) params.set('collapse', 'true');
  if (els.exact.checked) params.set('exact', 'true');
  if (pageSize() !== DEFAULT_PAGE_SIZE) params.set('k', String(pageSize()));
  const q = serializeTerms(state.terms);
  if (q) params.set('q', q);
  for (const name of imageNames(state.terms)) params.append('image', name);
  if (els.viewer.open && state.viewingHit) params.set('view', String(state.viewingHit.id));
  const search = params.toString();
  return `${location.pathname}${search ? `?${search}` : ''}`;
}

/** The parameters of the page's URL; `near` (+ `radius`), `within`, `since` and `until` are the API's place and time filters, which the page shows as filters. */
const URL_PARAMS = new Set(['q', 'image', 'filter', 'bbox', 'collapse', 'exact', 'k', 'view']);
const API_FILTER_PARAMS = ['near', 'radius', 'within', 'since', 'until'];

/**
 * Reads the URL into the page; what it cannot use (a bbox that is not four numbers, a page size
 * that is not one) goes to `state.urlProblems`, and run() says so rather than searching without
 * it. Filters are checked by the server, which names the one it cannot read. A parameter the page
 * does not know is searched without and named beside the results (`state.urlIgnored`): links pick
 * up parameters on their way (utm_source, fbclid), which must not stop them working.
 */
function readUrl() {
  const params = new URLSearchParams(location.search);
  const problems = [];
  state.urlIgnored = [...new Set(params.keys())].filter((key) => !URL_PARAMS.has(key) && !API_FILTER_PARAMS.includes(key));
  const apiFilters = [];
  const near = params.get('near');
  if (near !== null) apiFilters.push(`near=${near}${params.has('radius') ? `,${params.get('radius')}` : ''}`);
  else if (params.has('radius')) problems.push(`radius=${params.get('radius')} needs near=LON,LAT`);
  for (const key of ['within', 'since', 'until']) if (params.has(key)) apiFilters.push(`${key}=${params.get(key)}`);
  setFilterSpecs([...params.getAll('filter'), ...apiFilters]);
  const rawBbox = params.get('bbox');
  const bbox = rawBbox?.split(',').map((v) => (v.trim() === '' ? NaN : Number(v)));
  state.bbox = bbox?.length === 4 && bbox.every(Number.isFinite) ? bbox : null;
  if (rawBbox !== null && !state.bbox) problems.push(`bbox=${rawBbox} is not west,south,east,north in degrees (e.g. bbox=12.3,41.8,12.6,42.0)`);
  for (const key of ['collapse', 'exact']) {
    const value = params.get(key);
    if (value !== null && value !== 'true' && value !== 'false') problems.push(`${key}=${value} is neither true nor false`);
  }
  els.collapse.checked = params.get('collapse') === 'true';
  els.exact.checked = params.get('exact') === 'true';
  const k = params.get('k');
  if (k !== null && !/^[1-9]\d*$/.test(k)) problems.push(`k=${k} is not a number of results per page`);
  setPageSize(Number(k ?? DEFAULT_PAGE_SIZE));
  state.urlProblems = problems;
  const q = params.get('q') ?? '';
  const images = params.getAll('image');
  const kept = history.state?.terms;
  const fromHistory = Array.isArray(kept) && serializeTerms(kept) === q && imageNames(kept).join('\n') === images.join('\n');
  const bounded = boundedTerms(fromHistory ? kept : parseTerms(q));
  state.terms = bounded.terms;
  state.termNotes = bounded.notes;
  showMissingImages(fromHistory ? [] : images);
  els.q.value = state.terms.length === 1 && state.terms[0].kind === 'text' && state.terms[0].weight === 1 ? state.terms[0].text : q;
  return params.get('view');
}

/** The file names of the query's uploaded images, in order: what the URL can say about them. */
const imageNames = (terms) => terms.filter((t) => t.kind === 'image').map((t) => t.name);

/** Says that the link named query images it could not carry (none: the notice goes). */
function showMissingImages(names) {
  els.missingImages.hidden = names.length === 0;
  if (names.length === 0) return;
  const one = names.length === 1;
  const rest = state.terms.length > 0 ? 'the results are for the rest of the query' : 'there is nothing else to search for';
  els.missingImages.textContent = `This link's query also had ${one ? 'an uploaded image' : `${names.length} uploaded images`} (${names.join(', ')}), which a link cannot carry: ${rest}. Add ${one ? 'it' : 'them'} again with “+ image…” or “Search by image”.`;
}

// ---- status, errors, start page --------------------------------------------------------------

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

let startLoaded = false;
async function showStart() {
  clearResults();
  els.intro.hidden = false;
  renderTerms();
  if (startLoaded) return;
  startLoaded = true;
  try {
    const stats = await api('api/stats');
    state.basemap = stats.page?.basemap ?? null;
    const { images, items } = stats.index;
    const failed = images.error === 1 ? '1 file' : `${images.error.toLocaleString()} files`;
    if (items === 0 && images.error > 0) {
      // not "empty": the archive was indexed, and nothing in it could be read; the list says why
      els.summary.textContent = `The index holds no searchable image: ${images.ok > 0 ? `${images.ok.toLocaleString()} file${images.ok === 1 ? '' : 's'} had nothing to embed, and ` : ''}${failed} could not be read (below). Fix or replace them, run “rsclip index FOLDER --retry-errors”, then reload this page.`;
      await showFailed();
      return;
    }
    if (items === 0) {
      els.summary.textContent = 'The index is empty: nothing to search yet. Index a folder with “rsclip index FOLDER”, then reload this page.';
      return;
    }
    const updated = stats.index.lastChange ? `last update ${new Date(stats.index.lastChange).toLocaleString()}` : `index created ${new Date(stats.meta.createdAt).toLocaleString()}`;
    els.summary.textContent = `${items.toLocaleString()} searchable item${items === 1 ? '' : 's'} (whole images and tiles of scenes) in ${images.ok.toLocaleString()} file${images.ok === 1 ? '' : 's'}; model ${stats.model.id}; ${updated}.`;
    if (images.error > 0) {
      const link = document.createElement('a');
      link.href = '#failed';
      link.textContent = `${failed} could not be read`;
      link.addEventListener('click', (event) => {
        event.preventDefault();
        showFailed();
      });
      els.summary.append(' ', link, '.');
    }
    const sample = await api('api/sample?k=12');
    els.sample.replaceChildren(
      ...sample.items.map((item) => {
        state.names.set(item.id, item.fileName);
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'sample-card';
        button.setAttribute('aria-label', `Images like ${item.path}`);
        const img = document.createElement('img');
        img.loading = 'lazy';
        img.alt = item.path;
        img.width = 256;
        img.height = 256;
        img.src = withToken(`api/images/${item.id}/thumbnail`);
        const caption = document.createElement('span');
        caption.className = 'caption';
        caption.textContent = item.fileName;
        button.append(img, caption);
        button.addEventListener('click', () => newQuery([{ kind: 'id', id: item.id, weight: 1 }]));
        li.append(button);
        return li;
      }),
    );
  } catch (error) {
    startLoaded = false;
    showError(error);
  }
}

async function showFailed() {
  try {
    const { files, total } = await api('api/failed');
    const list = document.createElement('ul');
    for (const file of files) {
      const li = document.createElement('li');
      li.textContent = `${file.path}: ${file.error}`;
      list.append(li);
    }
    const shown = [list];
    if (total > files.length) {
      const more = document.createElement('p');
      more.textContent = `The first ${files.length} of ${total.toLocaleString()}; “rsclip errors” lists them all.`;
      shown.push(more);
    }
    els.failedList.replaceChildren(...shown);
    els.failedList.hidden = false;
  } catch (error) {
    showError(error);
  }
}

// ---- results ----------------------------------------------------------------------------------

const scoreText = (score) => score.toFixed(3);

function updateSelection() {
  const n = state.selected.size;
  els.selectedCount.textContent = n === 0 ? '' : `${n} selected`;
  els.exportSelected.disabled = n === 0;
  els.selectAll.checked = n > 0 && n === state.hits.length;
  els.selectAll.indeterminate = n > 0 && n < state.hits.length;
  for (const box of els.results.querySelectorAll('input.select')) box.checked = state.selected.has(Number(box.dataset.id));
}

function feedback(hit, weight) {
  state.names.set(hit.id, hit.fileName);
  newQuery([...state.terms.filter((t) => !(t.kind === 'id' && t.id === hit.id)), { kind: 'id', id: hit.id, weight }]);
}

function card(hit, index) {
  state.names.set(hit.id, hit.fileName);
  const li = document.createElement('li');
  li.className = 'result';
  li.dataset.id = String(hit.id);
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'card';
  button.dataset.index = String(index);
  button.dataset.id = String(hit.id);
  const img = document.createElement('img');
  img.loading = 'lazy';
  img.alt = '';
  img.width = 256;
  img.height = 256;
  img.src = withToken(`api/images/${hit.id}/thumbnail`);
  const caption = document.createElement('span');
  caption.className = 'caption';
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = hit.fileName;
  name.title = hit.path;
  // the path, for screen readers: the visible name is only the file name
  const where = document.createElement('span');
  where.className = 'visually-hidden';
  where.textContent = hit.path;
  const score = document.createElement('span');
  score.className = 'score';
  score.textContent = scoreText(hit.score);
  caption.append(name, score);
  button.append(img, caption, where);
  if (hit.duplicates?.length) {
    const dups = document.createElement('span');
    dups.className = 'dups';
    dups.textContent = `+${hit.duplicates.length} near-duplicate${hit.duplicates.length > 1 ? 's' : ''}`;
    button.append(dups);
  }
  button.addEventListener('click', () => openViewer(index));

  const tools = document.createElement('div');
  tools.className = 'card-tools';
  const select = document.createElement('input');
  select.type = 'checkbox';
  select.className = 'select';
  select.dataset.id = String(hit.id);
  select.setAttribute('aria-label', `Select ${hit.path}`);
  select.addEventListener('click', (event) => {
    const on = select.checked;
    const [from, to] = event.shiftKey && state.lastChecked >= 0 ? [Math.min(state.lastChecked, index), Math.max(state.lastChecked, index)] : [index, index];
    for (let i = from; i <= to; i++) {
      if (on) state.selected.add(state.hits[i].id);
      else state.selected.delete(state.hits[i].id);
    }
    state.lastChecked = index;
    updateSelection();
  });
  const good = document.createElement('button');
  good.type = 'button';
  good.className = 'small good';
  good.textContent = '+ good';
  good.setAttribute('aria-label', `Good result: add ${hit.fileName} to the query`);
  good.addEventListener('click', () => feedback(hit, FEEDBACK_WEIGHT));
  const bad = document.createElement('button');
  bad.type = 'button';
  bad.className = 'small bad';
  bad.textContent = '− bad';
  bad.setAttribute('aria-label', `Bad result: subtract ${hit.fileName} from the query`);
  bad.addEventListener('click', () => feedback(hit, -FEEDBACK_WEIGHT));
  tools.append(select, good, bad);

  const hover = (on) => state.map?.highlight(hit.id, on);
  li.addEventListener('mouseenter', () => hover(true));
  li.addEventListener('mouseleave', () => hover(false));
  button.addEventListener('focus', () => hover(true));
  button.addEventListener('blur', () => hover(false));
  li.append(button, tools);
  return li;
}

/** Forgets the current results (a new query starts, or one could not start). */
function clearResults() {
  state.controller?.abort();
  state.cursor = undefined;
  state.hits = [];
  state.selected.clear();
  state.lastChecked = -1;
  els.results.replaceChildren();
  els.loadMore.hidden = true;
  els.empty.hidden = true;
  els.intro.hidden = true;
  els.toolbar.hidden = true;
  els.mapPanel.hidden = true;
  els.error.hidden = true;
  state.map?.clear();
  setStatus('');
  updateSelection();
}

function bboxChip() {
  const chip = document.createElement('span');
  chip.className = 'chip area';
  chip.setAttribute('role', 'listitem');
  const label = document.createElement('span');
  label.className = 'chip-label';
  label.textContent = `area ${state.bbox.map((v) => v.toFixed(3)).join(', ')}`;
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'chip-remove';
  remove.textContent = '✕';
  remove.setAttribute('aria-label', 'Remove the area filter');
  remove.addEventListener('click', () => {
    state.bbox = null;
    newQuery(state.terms);
  });
  chip.append(label, remove);
  return chip;
}

function addImageChip() {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'chip add';
  button.textContent = '+ image…';
  button.setAttribute('aria-label', 'Add an image to the query');
  button.addEventListener('click', () => {
    addImageNext = true;
    els.imageInput.click();
  });
  return button;
}

/** Says how a chip's typed weight was taken (kept, or moved to a bound); the next query's status replaces it. */
function setChipNote(text) {
  els.chipNote.textContent = text;
  els.chipNote.hidden = false;
}

function renderTerms() {
  els.chipNote.hidden = true;
  const extra = [];
  if (state.terms.length > 0) extra.push(addImageChip());
  if (state.bbox) extra.push(bboxChip());
  renderChips(els.terms, state.terms, nameOf, (terms) => newQuery(terms), extra, (note) => setChipNote(note));
}

function ensureMap() {
  if (state.map) return state.map;
  state.map = createMapView(els.map, {
    basemap: state.basemap,
    thumbnailUrl: (id) => withToken(`api/images/${id}/thumbnail?size=128`),
    overviewUrl: (id) => withToken(`api/images/${id}/overview`),
    scene: (id) => api(`api/images/${id}/scene`),
    onOpen: (hit) => openViewer(state.hits.indexOf(hit)),
    onHover: (id, on) => els.results.querySelector(`li[data-id="${id}"]`)?.classList.toggle('hover', on),
  });
  return state.map;
}

function showOnMap(fit) {
  const placed = state.hits.filter((h) => h.footprint).length;
  els.mapPanel.hidden = !state.showMap || placed === 0;
  els.mapNote.textContent = placed < state.hits.length && placed > 0 ? `${state.hits.length - placed} results without a place are in the list only` : '';
  if (els.mapPanel.hidden) return;
  const map = ensureMap();
  map.invalidate();
  map.show(state.hits, { fit });
}

/** A new query: the terms (and the filters on the page) go into the URL, then run. */
function newQuery(terms, { push = true } = {}) {
  const bounded = boundedTerms(terms);
  state.terms = bounded.terms;
  state.termNotes = bounded.notes;
  state.urlProblems = [];
  state.urlIgnored = [];
  showMissingImages([]);
  closeViewer();
  // image terms cannot travel in the URL: the history entry keeps them (Back, Forward and reload in this tab), the URL names them
  if (push) history.pushState({ terms: state.terms }, '', stateUrl());
  return run();
}

async function run(viewId) {
  const generation = ++state.runs;
  renderTerms();
  if (state.termNotes.length > 0) setChipNote(state.termNotes.join(' '));
  if (state.urlProblems.length > 0) {
    // results without the parameter would pass for results with it
    if (state.terms.length === 0) showStart();
    else clearResults();
    const many = state.urlProblems.length > 1;
    showError(new Error(`This link cannot be searched as it is: ${state.urlProblems.join('; ')}. Correct ${many ? 'them' : 'it'} in the address, or search again from the page (without ${many ? 'them' : 'it'}).`));
    return;
  }
  if (state.terms.length === 0) return showStart();
  clearResults();
  await loadPage();
  if (viewId) {
    const index = state.hits.findIndex((h) => String(h.id) === viewId);
    if (index >= 0) openViewer(index, { record: false });
    // (not when the search failed: its error stays alone)
    else if (els.error.hidden) await openLinkedItem(viewId, generation);
  }
  if (state.urlIgnored.length > 0 && state.runs === generation) {
    const many = state.urlIgnored.length > 1;
    const note = `This link's parameter${many ? 's' : ''} ${state.urlIgnored.map((key) => `“${key}”`).join(', ')} mean${many ? '' : 's'} nothing to the page: the results are without ${many ? 'them' : 'it'}.`;
    // beside an error already shown (an item of the link that could not be opened), not instead of it
    showError(new Error(els.error.hidden ? note : `${els.error.textContent} ${note}`));
  }
}

/**
 * Opens the item a link names that the first page of results does not hold (it was opened from a
 * later page, or the results changed since): fetched by its id, shown without a rank or score.
 */
async function openLinkedItem(viewId, generation) {
  try {
    if (!/^[1-9]\d*$/.test(viewId)) throw new Error(`“${viewId}” is not an item id.`);
    const item = await api(`api/images/${viewId}`);
    // a newer query started meanwhile
    if (state.runs !== generation) return;
    state.names.set(item.id, item.fileName);
    showItem({ ...item, shown: state.hits.length }, -1, { record: false });
  } catch (error) {
    if (state.runs !== generation) return;
    showError(new Error(`Could not open item #${viewId} of this link: ${error.message}`));
  }
}

async function loadPage() {
  const controller = new AbortController();
  state.controller = controller;
  const describe = describeTerms(state.terms, nameOf);
  els.error.hidden = true;
  els.empty.hidden = true;
  els.loadMore.hidden = true;
  setStatus(`Searching ${describe}…`, true);
  const slow = setTimeout(() => setStatus(`Still searching ${describe}… (the first query loads the model; exact search and large filters take longer)`, true), SLOW_QUERY_MS);
  try {
    const page = await searchPage(pageSize(), state.cursor, controller.signal);
    if (controller.signal.aborted) return;
    const start = state.hits.length;
    state.hits.push(...page.hits);
    els.results.append(...page.hits.map((hit, i) => card(hit, start + i)));
    els.results.classList.toggle('long', state.hits.length > LONG_LIST);
    state.cursor = page.nextCursor;
    els.loadMore.hidden = !page.nextCursor;
    els.toolbar.hidden = state.hits.length === 0;
    if (state.hits.length === 0) {
      const specs = [...filterSpecs(), ...(state.bbox ? [`bbox=${state.bbox.join(',')}`] : [])];
      els.empty.textContent = page.filtered === 0 ? `No item passes the filters (${specs.join('; ')}). Remove a filter or widen the area.` : 'No images match. Try other words, an image, or fewer filters.';
      els.empty.hidden = false;
    }
    // the filters count items: whole images and the tiles of scenes
    const filtered = page.filtered === undefined ? '' : ` (${page.filtered === 1 ? '1 item passes' : `${page.filtered.toLocaleString()} items pass`} the filters)`;
    const ms = Math.round(page.timings.embedMs + page.timings.searchMs);
    const notices = (page.notices ?? []).map((n) => ` Note: ${n}.`).join('');
    setStatus(`${state.hits.length} result${state.hits.length === 1 ? '' : 's'} for ${describe}${filtered}, ${ms} ms.${notices}`);
    if (start === 0) window.performance.mark('rsclip:results-shown');
    showOnMap(start === 0);
    // the footprints are painted in the next animation frame (Leaflet's canvas renderer draws there)
    if (start === 0) window.requestAnimationFrame(() => window.performance.mark('rsclip:map-drawn'));
    updateSelection();
    if (start === 0) els.results.querySelector('button.card')?.focus({ preventScroll: true });
  } catch (error) {
    if (error.name === 'AbortError') return;
    setStatus('');
    showError(error);
  } finally {
    clearTimeout(slow);
  }
}

function readImage(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

let addImageNext = false;
async function searchImage(file) {
  const adding = addImageNext;
  addImageNext = false;
  if (!file.type.startsWith('image/') && file.type !== '') {
    // the results on screen belong to the previous query, not to this file
    clearResults();
    showError(new Error(`${file.name} is not an image (${file.type}).`));
    return;
  }
  const term = { kind: 'image', image: await readImage(file), name: file.name, weight: 1 };
  return newQuery(adding ? [...state.terms, term] : [term]);
}

// ---- export ----------------------------------------------------------------------------------

async function allHits() {
  const hits = [];
  let cursor;
  do {
    const page = await searchPage(EXPORT_PAGE, cursor);
    hits.push(...page.hits);
    cursor = page.nextCursor;
  } while (cursor && hits.length < EXPORT_MAX);
  return hits;
}

els.exportSelected.addEventListener('click', () => downloadHits(state.hits.filter((h) => state.selected.has(h.id)), els.exportFormat.value, 'rsclip-selection'));
els.exportAll.addEventListener('click', async () => {
  setStatus('Collecting every result…', true);
  try {
    const hits = await allHits();
    downloadHits(hits, els.exportFormat.value, 'rsclip-results');
    setStatus(`Exported ${hits.length} results`);
  } catch (error) {
    setStatus('');
    showError(error);
  }
});
els.selectAll.addEventListener('change', () => {
  state.selected = new Set(els.selectAll.checked ? state.hits.map((h) => h.id) : []);
  updateSelection();
});

// ---- map actions -----------------------------------------------------------------------------

els.toggleMap.addEventListener('click', () => {
  state.showMap = !state.showMap;
  els.toggleMap.setAttribute('aria-pressed', String(state.showMap));
  showOnMap(true);
});
els.searchArea.addEventListener('click', () => {
  if (!state.map) return;
  state.bbox = state.map.visibleBbox();
  newQuery(state.terms);
});
els.drawArea.addEventListener('click', () => {
  const map = ensureMap();
  if (map.isDrawing()) {
    map.stopDrawing();
    els.drawArea.setAttribute('aria-pressed', 'false');
    return;
  }
  els.drawArea.setAttribute('aria-pressed', 'true');
  const note = els.mapNote.textContent;
  els.mapNote.textContent = 'Press and drag on the map to draw the area to search.';
  map.startDrawing(
    (bbox) => {
      els.drawArea.setAttribute('aria-pressed', 'false');
      state.bbox = bbox;
      newQuery(state.terms);
    },
    () => {
      els.drawArea.setAttribute('aria-pressed', 'false');
      els.mapNote.textContent = note;
    },
  );
});

// ---- viewer ----------------------------------------------------------------------------------

const sceneViewer = createSceneViewer(
  {
    stage: $('scene-stage'), image: $('viewer-image'), heat: $('viewer-heat'), outline: $('viewer-window'), coords: $('viewer-coords'),
    meta: $('viewer-meta'), showScene: $('show-scene'), showTile: $('show-tile'), showHeat: $('show-heat'),
  },
  {
    api,
    withToken,
    setBusy: (text, loading = true) => setStatus(text, loading),
    /** What the heat map locates: the whole query (texts, images and ids with their signs and weights). */
    locateQuery: () => (state.terms.length === 0 ? null : { terms: termsJson(state.terms), describe: describeTerms(state.terms, nameOf) }),
  },
);

function openViewer(index, options) {
  const hit = state.hits[index];
  if (hit) showItem(hit, index, options);
}

/** Shows `hit` in the viewer: the hit at `index` of the list, or (-1) an item the list does not hold. */
function showItem(hit, index, { record = true } = {}) {
  state.viewing = index;
  state.viewingHit = hit;
  els.viewerTitle.textContent = hit.path;
  els.viewerOpen.href = withToken(`api/images/${hit.id}/file`);
  els.viewerPrev.disabled = index <= 0;
  els.viewerNext.disabled = index < 0 || index === state.hits.length - 1;
  if (!els.viewer.open) els.viewer.showModal();
  els.moreLikeThis.focus();
  if (record) history.replaceState(history.state, '', stateUrl());
  sceneViewer.show(hit);
}

function closeViewer() {
  if (els.viewer.open) els.viewer.close();
}

els.viewer.addEventListener('close', () => {
  history.replaceState(history.state, '', stateUrl());
  els.results.querySelector(`button[data-index="${state.viewing}"]`)?.focus();
});
els.viewerClose.addEventListener('click', closeViewer);
els.viewerPrev.addEventListener('click', () => openViewer(state.viewing - 1));
els.viewerNext.addEventListener('click', () => openViewer(state.viewing + 1));
els.moreLikeThis.addEventListener('click', () => {
  const hit = state.viewingHit;
  if (hit) newQuery([{ kind: 'id', id: hit.id, weight: 1 }]);
});
els.viewerGood.addEventListener('click', () => state.viewingHit && feedback(state.viewingHit, FEEDBACK_WEIGHT));
els.viewerBad.addEventListener('click', () => state.viewingHit && feedback(state.viewingHit, -FEEDBACK_WEIGHT));
els.viewer.addEventListener('keydown', (event) => {
  if (event.target.closest?.('input')) return;
  if (state.viewing < 0) return;
  if (event.key === 'ArrowLeft' && state.viewing > 0) openViewer(state.viewing - 1);
  else if (event.key === 'ArrowRight' && state.viewing < state.hits.length - 1) openViewer(state.viewing + 1);
  else return;
  event.preventDefault();
});
// a click on the backdrop (outside the dialog box) closes the viewer
els.viewer.addEventListener('click', (event) => {
  if (event.target === els.viewer) closeViewer();
});

// ---- the search form -------------------------------------------------------------------------

els.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const terms = parseTerms(els.q.value.trim());
  if (terms.length === 0) {
    showError(new Error('Type what you are looking for, or search by image.'));
    els.q.focus();
    return;
  }
  newQuery(terms);
});
els.addTerms.addEventListener('click', () => {
  const terms = parseTerms(els.q.value.trim());
  if (terms.length === 0) {
    els.q.focus();
    return;
  }
  els.q.value = '';
  newQuery([...state.terms, ...terms]);
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

window.addEventListener('popstate', () => {
  closeViewer();
  run(readUrl());
});

async function start() {
  const view = readUrl();
  // the basemap (if any) must be known before the map is made
  try {
    state.basemap = (await api('api/stats')).page?.basemap ?? null;
  } catch {
    // the start page or the query shows the error
  }
  run(view);
}
start();
