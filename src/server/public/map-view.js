// The results on a map (Leaflet, served by rsclip itself): footprints coloured by rank, the
// scenes' own overviews and a graticule (nothing from the network), an XYZ basemap when the
// server names one; "search this area" and a drawn rectangle give a bbox filter.
/* global L */

/** viridis from the best rank (yellow) to the worst (dark blue), readable by colour-blind eyes. */
const RAMP = [[253, 231, 37], [94, 201, 98], [33, 145, 140], [59, 82, 139], [68, 1, 84]];
export function rankColour(rank, count) {
  const t = count <= 1 ? 0 : (rank - 1) / (count - 1);
  const f = t * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(f));
  const u = f - i;
  const c = RAMP[i].map((v, k) => Math.round(v + (RAMP[i + 1][k] - v) * u));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** A longitude in -180..180. */
const wrapLon = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;
/** `lon` moved by whole turns to within 180 degrees of `ref`. */
const lonNear = (lon, ref) => lon + 360 * Math.round((ref - lon) / 360);

/**
 * The [lon, lat] rings of a GeoJSON Polygon or MultiPolygon made continuous: each ring's points
 * follow each other without the ±180 jump, and each polygon lies next to the first. A footprint cut
 * at the antimeridian (parts at 179.9 and -179.9) becomes one patch again, past 180 (Leaflet takes
 * longitudes beyond ±180).
 */
function unwrapGeometry(geometry) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  const ref = polygons[0]?.[0]?.[0]?.[0] ?? 0;
  return polygons.map((rings) =>
    rings.map((ring) => {
      let previous = ref;
      return ring.map(([lon, lat]) => {
        previous = lonNear(lon, previous);
        return [previous, lat];
      });
    }),
  );
}

/** The longitudes the outer rings of `polygons` reach, west and east. */
function lonRange(polygons) {
  let min = Infinity;
  let max = -Infinity;
  for (const rings of polygons) for (const [lon] of rings[0] ?? []) [min, max] = [Math.min(min, lon), Math.max(max, lon)];
  return [min, max];
}

/** Web Mercator's last latitude: the map has no place beyond it. */
const MERCATOR_LATITUDE = 85.0511;

/**
 * A footprint that, made continuous, spans half the world or more goes round a pole (or nearly
 * round the Earth), and one that reaches past Web Mercator's latitudes lies (in part) where the
 * map has no place: neither has one patch on the map. Such a footprint is drawn as the API gives
 * it (cut at ±180, clipped at about 85°), without an overview, and left out of the placement and
 * the fit of the other results.
 */
function offMercator(polygons) {
  const [west, east] = lonRange(polygons);
  return east - west >= 180 || polygons.some((rings) => (rings[0] ?? []).some(([, lat]) => Math.abs(lat) > MERCATOR_LATITUDE));
}

function lonCentre(polygons) {
  const [west, east] = lonRange(polygons);
  return (west + east) / 2;
}

/**
 * Shifts (whole turns) that put the geometries with these centre longitudes together: the world is
 * cut at the widest gap between them (the antimeridian when that is as wide as any), and the group
 * is centred as near 0 as whole turns allow. Results on both sides of 180 are drawn side by side.
 */
function shiftsFor(centres) {
  if (centres.length === 0) return [];
  const sorted = centres.map(wrapLon).sort((a, b) => a - b);
  let start = sorted[0];
  let widest = sorted[0] + 360 - sorted[sorted.length - 1];
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] - sorted[i - 1] > widest + 1e-9) [widest, start] = [sorted[i] - sorted[i - 1], sorted[i]];
  }
  const placed = centres.map((c) => start + ((((wrapLon(c) - start) % 360) + 360) % 360));
  const middle = (Math.min(...placed) + Math.max(...placed)) / 2;
  const turn = -360 * Math.round(middle / 360);
  return placed.map((p, i) => p + turn - centres[i]);
}

/** Leaflet's [lat, lng] rings from unwrapped [lon, lat] rings, moved east by `shift` degrees. */
function toLatLngs(polygons, shift) {
  return polygons.map((rings) => rings.map((ring) => ring.map(([lon, lat]) => [lat, lon + shift])));
}

/** Pixels of the box an overview is laid out in before its transform maps it onto its corners. */
const OVERVIEW_BOX = 1024;

/**
 * The CSS matrix3d that maps the box [0, w] x [0, h] onto the quadrilateral p0 p1 p2 p3 (the images
 * of its top-left, top-right, bottom-right and bottom-left corners): the projective map of the unit
 * square onto four points (an affine one when they make a parallelogram), scaled to the box.
 */
function quadMatrix(w, h, [p0, p1, p2, p3]) {
  const [dx1, dy1, dx2, dy2] = [p1.x - p2.x, p1.y - p2.y, p3.x - p2.x, p3.y - p2.y];
  const [dx3, dy3] = [p0.x - p1.x + p2.x - p3.x, p0.y - p1.y + p2.y - p3.y];
  const det = dx1 * dy2 - dx2 * dy1;
  const g = det === 0 ? 0 : (dx3 * dy2 - dx2 * dy3) / det;
  const k = det === 0 ? 0 : (dx1 * dy3 - dx3 * dy1) / det;
  const a = p1.x - p0.x + g * p1.x;
  const b = p3.x - p0.x + k * p3.x;
  const d = p1.y - p0.y + g * p1.y;
  const e = p3.y - p0.y + k * p3.y;
  // x' = (a u + b v + p0.x) / (g u + k v + 1), y' likewise, with u = x / w and v = y / h; column-major
  return [a / w, d / w, 0, g / w, b / h, e / h, 0, k / h, 0, 0, 1, 0, p0.x, p0.y, 0, 1];
}

/**
 * An image placed by its four corners ([lat, lng]: top-left, top-right, bottom-right, bottom-left),
 * not by a north-up box: a CSS transform maps it onto their quadrilateral, so a scene rotated
 * against north (UTM away from its central meridian) or not square in Web Mercator lies where its
 * corners are. Placed again when the zoom or the view resets; hidden while a zoom animates.
 */
let CornerImage = null;
function cornerImage(url, corners, options) {
  CornerImage ??= L.Layer.extend({
    initialize(imageUrl, latLngs, layerOptions) {
      this._url = imageUrl;
      this._corners = latLngs.map((c) => L.latLng(c));
      L.setOptions(this, layerOptions);
    },
    onAdd() {
      const image = L.DomUtil.create('img', `leaflet-image-layer leaflet-zoom-hide ${this.options.className ?? ''}`);
      image.alt = this.options.alt ?? '';
      image.draggable = false;
      Object.assign(image.style, { width: `${OVERVIEW_BOX}px`, height: `${OVERVIEW_BOX}px`, transformOrigin: '0 0', opacity: String(this.options.opacity ?? 1) });
      image.src = this._url;
      this._image = image;
      this.getPane().appendChild(image);
      this._place();
    },
    onRemove() {
      this._image?.remove();
      this._image = null;
    },
    getEvents() {
      return { zoom: this._place, zoomend: this._place, viewreset: this._place };
    },
    _place() {
      if (!this._image || !this._map) return;
      const origin = this._map.getPixelOrigin();
      const points = this._corners.map((c) => this._map.project(c).subtract(origin));
      this._image.style.transform = `matrix3d(${quadMatrix(OVERVIEW_BOX, OVERVIEW_BOX, points).join(', ')})`;
    },
  });
  return new CornerImage(url, corners, options);
}

/** At most this many scenes of a results list get their overview on the map. */
const OVERVIEW_MAX = 12;

/**
 * Up to this many footprints are SVG paths (each an element: crisp, and findable by its data-id);
 * more are painted on one canvas, which keeps a 1,000-hit page quick to draw, pan and zoom.
 */
const SVG_MAX = 250;

/** A round step for graticule lines about a sixth of the visible span. */
function graticuleStep(span) {
  const raw = span / 6;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
}

export function createMapView(container, options) {
  const map = L.map(container, { zoomSnap: 0.25, keyboard: true, worldCopyJump: false, attributionControl: Boolean(options.basemap) });
  map.setView([20, 0], 2);
  if (options.basemap) L.tileLayer(options.basemap, { maxZoom: 19, attribution: 'basemap: configured by the server' }).addTo(map);
  // the overviews lie under the footprints (the overlay pane is at z-index 400)
  map.createPane('overviews').style.zIndex = '350';
  const overviews = L.layerGroup().addTo(map);
  const graticule = L.layerGroup().addTo(map);
  const footprints = L.featureGroup().addTo(map);
  const layersById = new Map();
  const canvas = L.canvas({ padding: 0.5 });
  /** Path -> { layer, centre }: the overviews on the map, those of the current results. */
  const overviewsShown = new Map();
  /** Path -> the scene API's answer (a promise): fetched once per tab. */
  const scenes = new Map();
  /** Counts show() and clear() calls: an overview that arrives for an older list is dropped. */
  let generation = 0;
  let drawing = null;

  function drawGraticule() {
    graticule.clearLayers();
    const b = map.getBounds();
    const step = graticuleStep(Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth()));
    const digits = Math.max(0, -Math.floor(Math.log10(step)));
    const style = { color: '#5d6762', weight: 1, opacity: 0.5, interactive: false, dashArray: '3 4' };
    for (let lon = Math.ceil(b.getWest() / step) * step; lon <= b.getEast(); lon += step) {
      graticule.addLayer(L.polyline([[Math.max(-85, b.getSouth()), lon], [Math.min(85, b.getNorth()), lon]], style).bindTooltip(`${wrapLon(lon).toFixed(digits)}°`, { permanent: false }));
    }
    for (let lat = Math.ceil(b.getSouth() / step) * step; lat <= b.getNorth(); lat += step) {
      graticule.addLayer(L.polyline([[lat, b.getWest()], [lat, b.getEast()]], style).bindTooltip(`${lat.toFixed(digits)}°`, { permanent: false }));
    }
  }

  function publishBounds() {
    const b = map.getBounds();
    container.dataset.bounds = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(',');
    drawGraticule();
  }
  map.on('moveend', publishBounds);

  function tooltipContent(hit) {
    const box = document.createElement('div');
    box.className = 'map-tip';
    const img = document.createElement('img');
    img.src = options.thumbnailUrl(hit.id);
    img.alt = '';
    img.width = 128;
    img.height = 128;
    const name = document.createElement('span');
    name.textContent = `#${hit.rank} ${hit.fileName}`;
    box.append(img, name);
    return box;
  }

  /** Shows the hits (replacing those shown, their overviews too); `fit` moves the map to them. */
  function show(hits, { fit }) {
    footprints.clearLayers();
    layersById.clear();
    generation++;
    const placed = hits.filter((h) => h.footprint);
    const unwrapped = placed.map((hit) => unwrapGeometry(hit.footprint));
    const polar = unwrapped.map(offMercator);
    // results on both sides of the antimeridian are drawn side by side, not a world apart
    const others = placed.flatMap((_, i) => (polar[i] ? [] : [i]));
    const shifts = placed.map(() => 0);
    shiftsFor(others.map((i) => lonCentre(unwrapped[i]))).forEach((shift, k) => (shifts[others[k]] = shift));
    const renderer = placed.length > SVG_MAX ? canvas : undefined;
    const sceneCentres = new Map();
    const fitted = L.latLngBounds([]);
    placed.forEach((hit, i) => {
      const colour = rankColour(hit.rank, hits.length);
      const rings = polar[i] ? toLatLngs(hit.footprint.type === 'Polygon' ? [hit.footprint.coordinates] : hit.footprint.coordinates, 0) : toLatLngs(unwrapped[i], shifts[i]);
      const layer = L.polygon(rings, { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.2, className: 'footprint', ...(renderer ? { renderer } : {}) });
      layer.bindTooltip(() => tooltipContent(hit), { direction: 'top', sticky: true, className: 'map-tooltip' });
      layer.on('click', () => options.onOpen(hit));
      layer.on('mouseover', () => options.onHover(hit.id, true));
      layer.on('mouseout', () => options.onHover(hit.id, false));
      footprints.addLayer(layer);
      layersById.set(hit.id, layer);
      // the grid is the keyboard's and screen reader's way to the same hits
      const path = layer.getElement();
      if (path) path.dataset.id = String(hit.id);
      if (polar[i]) return;
      fitted.extend(layer.getBounds());
      // the overviews of the best-ranked scenes, placed next to their hits' footprints
      if (!sceneCentres.has(hit.path) && sceneCentres.size < OVERVIEW_MAX) sceneCentres.set(hit.path, { hit, centre: lonCentre(unwrapped[i]) + shifts[i] });
    });
    showOverviews(sceneCentres);
    // footprints off the map's latitudes count in the fit only when there is nothing else
    if (fit && placed.length > 0) map.fitBounds(fitted.isValid() ? fitted : footprints.getBounds(), { padding: [20, 20], maxZoom: 16, animate: false });
    publishBounds();
    container.dataset.footprints = String(layersById.size);
    container.dataset.renderer = renderer ? 'canvas' : 'svg';
    return placed.length;
  }

  /** Keeps the overviews of `wanted` (path -> { hit, centre }) that are already placed there, removes the rest, adds the missing. */
  function showOverviews(wanted) {
    for (const [path, shown] of overviewsShown) {
      const want = wanted.get(path);
      if (want && Math.abs(want.centre - shown.centre) < 180) continue;
      overviews.removeLayer(shown.layer);
      overviewsShown.delete(path);
    }
    for (const [path, { hit, centre }] of wanted) if (!overviewsShown.has(path)) addOverview(hit, centre);
  }

  async function addOverview(hit, centre) {
    const called = generation;
    if (!scenes.has(hit.path)) scenes.set(hit.path, options.scene(hit.id));
    let scene;
    try {
      scene = await scenes.get(hit.path);
    } catch {
      scenes.delete(hit.path);
      return;
    }
    if (called !== generation || overviewsShown.has(hit.path) || !scene.corners) return;
    // a scene round a pole or past the map's latitudes has no four corners to lay its image on
    if (offMercator(unwrapGeometry({ type: 'Polygon', coordinates: [scene.corners] }))) return;
    // the corners made continuous across ±180, then moved next to the hit's footprint
    let previous = centre;
    const lons = scene.corners.map(([lon]) => (previous = lonNear(lon, previous)));
    const middle = (Math.min(...lons) + Math.max(...lons)) / 2;
    const shift = lonNear(middle, centre) - middle;
    const corners = scene.corners.map(([, lat], i) => [lat, lons[i] + shift]);
    const layer = cornerImage(options.overviewUrl(hit.id), corners, { pane: 'overviews', opacity: 0.9, alt: `overview of ${scene.path}`, className: 'overview' });
    overviews.addLayer(layer);
    overviewsShown.set(hit.path, { layer, centre: middle + shift });
  }

  function highlight(id, on) {
    const layer = layersById.get(id);
    if (!layer) return;
    layer.setStyle({ weight: on ? 4 : 2, fillOpacity: on ? 0.45 : 0.2 });
    if (on) layer.bringToFront();
  }

  function clear() {
    footprints.clearLayers();
    layersById.clear();
    overviews.clearLayers();
    overviewsShown.clear();
    generation++;
    container.dataset.footprints = '0';
  }

  /**
   * Leaflet's bounds as a bbox filter takes them: longitudes in -180..180 (the map's run on past
   * the antimeridian, and a zoomed-out view spans more than the world), west > east for a box
   * that crosses it, the whole range for one 360 degrees wide or more; latitudes within -90..90.
   */
  function toBbox(bounds) {
    const round = (v) => Number(v.toFixed(6));
    const wrap = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;
    const [west, east] = bounds.getEast() - bounds.getWest() >= 360 ? [-180, 180] : [wrap(bounds.getWest()), wrap(bounds.getEast())];
    const clampLat = (lat) => Math.max(-90, Math.min(90, lat));
    return [round(west), round(clampLat(bounds.getSouth())), round(east === -180 && west !== -180 ? 180 : east), round(clampLat(bounds.getNorth()))];
  }

  function visibleBbox() {
    return toBbox(map.getBounds());
  }

  /**
   * Drawing mode: press, drag and release on the map draws a rectangle, with a mouse, a pen or a
   * finger (pointer events; the map neither pans nor lets the page scroll meanwhile);
   * `onDrawn(bbox)` gets it. A press without a drag, or a cancelled one, ends the mode with
   * `onCancel()`.
   */
  function startDrawing(onDrawn, onCancel = () => {}) {
    if (drawing) stopDrawing();
    map.dragging.disable();
    container.classList.add('drawing');
    container.style.touchAction = 'none';
    drawing = { onDrawn, onCancel, start: null, rect: null, pointerId: null };
  }
  function stopDrawing() {
    if (drawing?.rect) drawing.rect.remove();
    if (drawing?.pointerId !== null && drawing?.pointerId !== undefined && container.hasPointerCapture?.(drawing.pointerId)) container.releasePointerCapture(drawing.pointerId);
    drawing = null;
    map.dragging.enable();
    container.classList.remove('drawing');
    container.style.touchAction = '';
  }
  /** The click that ends a drag would open the footprint under it: swallowed. */
  let swallowClick = false;
  container.addEventListener(
    'click',
    (event) => {
      if (!swallowClick) return;
      swallowClick = false;
      event.stopPropagation();
      event.preventDefault();
    },
    true,
  );
  container.addEventListener('pointerdown', (event) => {
    if (!drawing || drawing.start || !event.isPrimary || event.button !== 0 || event.target.closest?.('.leaflet-control-container')) return;
    // no compatibility mouse events (Leaflet's box zoom, text selection), no page scroll
    event.preventDefault();
    try {
      container.setPointerCapture(event.pointerId);
    } catch {
      // a pointer the browser does not know (synthetic events): the drag still works inside the map
    }
    const at = map.mouseEventToLatLng(event);
    drawing.pointerId = event.pointerId;
    drawing.start = at;
    drawing.rect = L.rectangle(L.latLngBounds(at, at), { color: '#a4262c', weight: 2, fillOpacity: 0.1, interactive: false }).addTo(map);
  });
  container.addEventListener('pointermove', (event) => {
    if (drawing?.start && event.pointerId === drawing.pointerId) drawing.rect.setBounds(L.latLngBounds(drawing.start, map.mouseEventToLatLng(event)));
  });
  container.addEventListener('pointerup', (event) => {
    if (!drawing?.start || event.pointerId !== drawing.pointerId) return;
    const b = L.latLngBounds(drawing.start, map.mouseEventToLatLng(event));
    const { onDrawn, onCancel } = drawing;
    swallowClick = true;
    setTimeout(() => (swallowClick = false), 0);
    stopDrawing();
    if (b.getEast() > b.getWest() && b.getNorth() > b.getSouth()) onDrawn(toBbox(b));
    else onCancel();
  });
  container.addEventListener('pointercancel', (event) => {
    if (!drawing?.start || event.pointerId !== drawing.pointerId) return;
    const { onCancel } = drawing;
    stopDrawing();
    onCancel();
  });

  return {
    show,
    highlight,
    clear,
    visibleBbox,
    startDrawing,
    stopDrawing,
    isDrawing: () => drawing !== null,
    invalidate: () => map.invalidateSize(),
  };
}
