// The scene viewer inside the dialog: a hit's tile in its scene (the overview with the window
// outlined), the tile at full resolution (the server reads the window), the locate heat map of
// the current query over the scene, coordinates under the cursor, and the metadata.
/* global navigator */

const RADIAN = Math.PI / 180;

/**
 * [lon, lat] between four corners (top-left, top-right, bottom-right, bottom-left) at fractions
 * (u, v) of the quad, interpolated as directions from the Earth's centre rather than as longitudes
 * and latitudes: the same across the antimeridian and round a pole.
 */
function directionBetween(corners, u, v) {
  const [tl, tr, br, bl] = corners.map(([lon, lat]) => [Math.cos(lat * RADIAN) * Math.cos(lon * RADIAN), Math.cos(lat * RADIAN) * Math.sin(lon * RADIAN), Math.sin(lat * RADIAN)]);
  const [x, y, z] = [0, 1, 2].map((k) => (1 - v) * ((1 - u) * tl[k] + u * tr[k]) + v * ((1 - u) * bl[k] + u * br[k]));
  return [Math.atan2(y, x) / RADIAN, Math.atan2(z, Math.hypot(x, y)) / RADIAN];
}

/**
 * [lon, lat] between four corners, bilinear in longitude and latitude (exact where they are affine
 * in pixels: a geographic CRS). Longitudes are taken next to the top-left's (across ±180); a corner
 * on a pole, whose longitude means nothing, takes that of the corner above or below it.
 */
function lonLatBetween(corners, u, v) {
  const onPole = (c) => Math.abs(c[1]) > 90 - 1e-9;
  const [tl, tr, br, bl] = corners;
  const lons = [[tl, bl], [tr, br], [br, tr], [bl, tl]].map(([c, other]) => (onPole(c) && !onPole(other) ? other[0] : c[0]));
  const near = lons.map((lon) => lon + 360 * Math.round((lons[0] - lon) / 360));
  let lon = (1 - v) * ((1 - u) * near[0] + u * near[1]) + v * ((1 - u) * near[3] + u * near[2]);
  if (lon > 180) lon -= 360;
  else if (lon < -180) lon += 360;
  return [lon, (1 - v) * ((1 - u) * tl[1] + u * tr[1]) + v * ((1 - u) * bl[1] + u * br[1])];
}

/**
 * [lon, lat] of a point at fractions (fx, fy) of the scene, from the scene's lon/lat grid (points
 * the server mapped through the CRS, `lonLatGrid` of /api/images/:id/scene): within the cell that
 * holds it, as lon/lat in a geographic CRS, as directions in a projected one; null past the
 * Earth's limb.
 */
function lonLatAt(grid, fx, fy) {
  const { columns, rows, points, geographic } = grid;
  const i = Math.min(columns - 1, Math.floor(fx * columns));
  const j = Math.min(rows - 1, Math.floor(fy * rows));
  const at = (col, row) => points[row * (columns + 1) + col];
  const cell = [at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)];
  if (cell.some((p) => !p)) return null;
  return (geographic ? lonLatBetween : directionBetween)(cell, fx * columns - i, fy * rows - j);
}

function isTile(hit) {
  return hit.width !== null && hit.height !== null && (hit.window.x !== 0 || hit.window.y !== 0 || hit.window.width !== hit.width || hit.window.height !== hit.height);
}

export function createSceneViewer(els, deps) {
  const state = { hit: null, scene: null, mode: 'scene', heat: false, token: 0 };

  function addMeta(dt, dd, action) {
    if (dd === null || dd === undefined || dd === '') return;
    const term = document.createElement('dt');
    term.textContent = dt;
    const value = document.createElement('dd');
    value.textContent = Array.isArray(dd) ? dd.join(', ') : String(dd);
    if (action) value.append(' ', action);
    els.meta.append(term, value);
  }

  function copyButton(text) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small';
    button.textContent = 'Copy';
    button.setAttribute('aria-label', `Copy coordinates ${text}`);
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = 'Copied';
      } catch {
        button.textContent = 'Select and copy by hand';
      }
    });
    return button;
  }

  function setPressed(button, on) {
    button.setAttribute('aria-pressed', String(on));
  }

  /** Lays out the stage for the current mode: the image, the window outline, the heat map. */
  function render() {
    const { hit, scene, mode } = state;
    // the readout was for the image shown before
    els.coords.value = '';
    const sceneMode = mode === 'scene' && scene !== null;
    const width = sceneMode ? scene.width : hit.window.width;
    const height = sceneMode ? scene.height : hit.window.height;
    els.stage.style.aspectRatio = `${width} / ${height}`;
    els.stage.style.width = `min(100%, calc(70vh * ${(width / height).toFixed(4)}))`;
    els.image.src = sceneMode ? deps.withToken(`api/images/${hit.id}/overview?size=1024`) : deps.withToken(`api/images/${hit.id}/file`);
    els.image.alt = sceneMode ? `Scene ${scene.path}, the result's window outlined` : `${hit.path}, window at full resolution`;
    const outline = sceneMode && isTile(hit);
    els.outline.hidden = !outline;
    if (outline) {
      els.outline.style.left = `${(100 * hit.window.x) / scene.width}%`;
      els.outline.style.top = `${(100 * hit.window.y) / scene.height}%`;
      els.outline.style.width = `${(100 * hit.window.width) / scene.width}%`;
      els.outline.style.height = `${(100 * hit.window.height) / scene.height}%`;
    }
    els.heat.hidden = !(sceneMode && state.heat && els.heat.dataset.for === String(hit.id));
    setPressed(els.showScene, sceneMode);
    setPressed(els.showTile, !sceneMode);
    setPressed(els.showHeat, sceneMode && state.heat);
    els.showScene.disabled = scene === null;
    els.showHeat.disabled = scene === null || deps.locateQuery() === null;
  }

  async function loadHeatMap() {
    const { hit } = state;
    const query = deps.locateQuery();
    if (!query) return;
    const token = state.token;
    deps.setBusy(`Locating ${query.describe} in ${hit.fileName}…`);
    try {
      // the whole query, as the search got it: every term with its sign and weight
      const result = await deps.api(`api/images/${hit.id}/locate?top=5`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ terms: query.terms }) });
      if (token !== state.token) return;
      els.heat.src = result.heatMap.url;
      els.heat.dataset.for = String(hit.id);
      els.heat.alt = `Heat map of ${query.describe}: best tile score ${result.heatMap.maxScore.toFixed(3)}, worst ${result.heatMap.minScore.toFixed(3)}`;
      deps.setBusy(`Heat map of ${query.describe}: ${result.tiles.length} tiles scored`, false);
    } catch (error) {
      state.heat = false;
      deps.setBusy(`Could not locate: ${error.message}`, false);
    }
    render();
  }

  els.showScene.addEventListener('click', () => {
    state.mode = 'scene';
    render();
  });
  els.showTile.addEventListener('click', () => {
    state.mode = 'tile';
    state.heat = false;
    render();
  });
  els.showHeat.addEventListener('click', () => {
    state.heat = !state.heat;
    state.mode = 'scene';
    if (state.heat && els.heat.dataset.for !== String(state.hit.id)) loadHeatMap();
    else render();
  });
  els.stage.addEventListener('pointerleave', () => {
    els.coords.value = '';
  });
  els.stage.addEventListener('pointermove', (event) => {
    const { scene, hit, mode } = state;
    if (!hit) return;
    const box = els.stage.getBoundingClientRect();
    const fx = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const fy = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    const inScene = mode === 'scene' && scene;
    const w = inScene ? scene.width : hit.window.width;
    const h = inScene ? scene.height : hit.window.height;
    const px = Math.floor(fx * w) + (inScene ? 0 : hit.window.x);
    const py = Math.floor(fy * h) + (inScene ? 0 : hit.window.y);
    let text = `pixel ${px}, ${py}`;
    const lonLat = scene?.lonLatGrid ? lonLatAt(scene.lonLatGrid, px / scene.width, py / scene.height) : null;
    if (lonLat) text += ` · ${lonLat[1].toFixed(5)}, ${lonLat[0].toFixed(5)}`;
    els.coords.value = text;
  });

  /** Shows a hit: its scene when it is a tile of a known scene, else its file; then its metadata. */
  async function show(hit) {
    state.hit = hit;
    state.scene = null;
    state.heat = false;
    state.mode = isTile(hit) ? 'scene' : 'tile';
    const token = ++state.token;
    els.heat.removeAttribute('src');
    delete els.heat.dataset.for;
    els.coords.value = '';
    els.meta.replaceChildren();
    addMeta('Score', hit.score?.toFixed(3));
    addMeta('Rank', hit.rank ?? (hit.shown === undefined ? undefined : `not among the ${hit.shown} results shown (opened from the link)`));
    render();
    try {
      const [meta, scene] = await Promise.all([deps.api(`api/images/${hit.id}`), deps.api(`api/images/${hit.id}/scene`)]);
      if (token !== state.token) return;
      state.scene = scene;
      render();
      addMeta('Size', meta.width && meta.height ? `${meta.width} × ${meta.height} px` : undefined);
      if (isTile(hit)) addMeta('Window', `${hit.window.x}, ${hit.window.y} + ${hit.window.width} × ${hit.window.height} px`);
      addMeta('Format', meta.format);
      addMeta('CRS', scene.crs ? `${scene.crs}${scene.epsg ? ` (EPSG:${scene.epsg})` : ''}` : undefined);
      addMeta('GSD', scene.gsd ? `${scene.gsd.toFixed(2)} m` : undefined);
      addMeta('Bands', scene.bands);
      addMeta('Acquired', scene.datetime ? (scene.datetime.start === scene.datetime.end ? scene.datetime.start : `${scene.datetime.start} – ${scene.datetime.end}`) : undefined);
      if (hit.center) {
        const text = `${hit.center[1].toFixed(6)}, ${hit.center[0].toFixed(6)}`;
        addMeta('Centre (lat, lon)', text, copyButton(text));
      }
      addMeta('Bytes', meta.bytes.toLocaleString());
      addMeta('Modified', new Date(meta.modified).toLocaleString());
      for (const [name, value] of Object.entries(meta.fields)) addMeta(name, value);
      if (hit.duplicates?.length) addMeta('Near-duplicates', hit.duplicates.map((d) => d.path));
    } catch (error) {
      if (token === state.token) addMeta('Error', error.message);
    }
  }

  return { show };
}
