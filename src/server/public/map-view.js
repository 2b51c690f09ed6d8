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

/** Leaflet's [lat, lng] rings from a GeoJSON Polygon or MultiPolygon. */
function latLngsOf(geometry) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  return polygons.map((rings) => rings.map((ring) => ring.map(([lon, lat]) => [lat, lon])));
}

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
  const overviews = L.layerGroup().addTo(map);
  const graticule = L.layerGroup().addTo(map);
  const footprints = L.featureGroup().addTo(map);
  const layersById = new Map();
  const canvas = L.canvas({ padding: 0.5 });
  const scenesShown = new Set();
  let drawing = null;

  function drawGraticule() {
    graticule.clearLayers();
    const b = map.getBounds();
    const step = graticuleStep(Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth()));
    const digits = Math.max(0, -Math.floor(Math.log10(step)));
    const style = { color: '#5d6762', weight: 1, opacity: 0.5, interactive: false, dashArray: '3 4' };
    for (let lon = Math.ceil(b.getWest() / step) * step; lon <= b.getEast(); lon += step) {
      graticule.addLayer(L.polyline([[Math.max(-85, b.getSouth()), lon], [Math.min(85, b.getNorth()), lon]], style).bindTooltip(`${lon.toFixed(digits)}°`, { permanent: false }));
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

  /** Shows the hits (replacing those shown); `fit` moves the map to them. */
  function show(hits, { fit }) {
    footprints.clearLayers();
    layersById.clear();
    const placed = hits.filter((h) => h.footprint);
    const renderer = placed.length > SVG_MAX ? canvas : undefined;
    placed.forEach((hit) => {
      const colour = rankColour(hit.rank, hits.length);
      const layer = L.polygon(latLngsOf(hit.footprint), { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.2, className: 'footprint', ...(renderer ? { renderer } : {}) });
      layer.bindTooltip(() => tooltipContent(hit), { direction: 'top', sticky: true, className: 'map-tooltip' });
      layer.on('click', () => options.onOpen(hit));
      layer.on('mouseover', () => options.onHover(hit.id, true));
      layer.on('mouseout', () => options.onHover(hit.id, false));
      footprints.addLayer(layer);
      layersById.set(hit.id, layer);
      // the grid is the keyboard's and screen reader's way to the same hits
      const path = layer.getElement();
      if (path) path.dataset.id = String(hit.id);
    });
    for (const hit of placed) addOverview(hit);
    if (fit && placed.length > 0) map.fitBounds(footprints.getBounds(), { padding: [20, 20], maxZoom: 16, animate: false });
    publishBounds();
    container.dataset.footprints = String(layersById.size);
    container.dataset.renderer = renderer ? 'canvas' : 'svg';
    return placed.length;
  }

  async function addOverview(hit) {
    if (scenesShown.has(hit.path) || scenesShown.size >= 12) return;
    scenesShown.add(hit.path);
    try {
      const scene = await options.scene(hit.id);
      if (!scene.bbox) return;
      const [w, s, e, n] = scene.bbox;
      L.imageOverlay(options.overviewUrl(hit.id), [[s, w], [n, e]], { opacity: 0.9, alt: `overview of ${scene.path}`, className: 'overview' }).addTo(overviews);
    } catch {
      scenesShown.delete(hit.path);
    }
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

  /** Drawing mode: press, drag and release on the map draws a rectangle; `onDrawn(bbox)` gets it. */
  function startDrawing(onDrawn) {
    map.dragging.disable();
    container.classList.add('drawing');
    drawing = { onDrawn, start: null, rect: null };
  }
  function stopDrawing() {
    if (drawing?.rect) drawing.rect.remove();
    drawing = null;
    map.dragging.enable();
    container.classList.remove('drawing');
  }
  map.on('mousedown', (event) => {
    if (!drawing) return;
    drawing.start = event.latlng;
    drawing.rect = L.rectangle(L.latLngBounds(event.latlng, event.latlng), { color: '#a4262c', weight: 2, fillOpacity: 0.1, interactive: false }).addTo(map);
  });
  map.on('mousemove', (event) => {
    if (drawing?.start) drawing.rect.setBounds(L.latLngBounds(drawing.start, event.latlng));
  });
  map.on('mouseup', (event) => {
    if (!drawing?.start) return;
    const b = L.latLngBounds(drawing.start, event.latlng);
    const { onDrawn } = drawing;
    stopDrawing();
    if (b.getEast() > b.getWest() && b.getNorth() > b.getSouth()) onDrawn(toBbox(b));
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
