/** Locate: where in one scene a query is, as tile scores, the best boxes and a heat map. */
export { locateInIndexedFile, locateInImage, indexTiling, DEFAULT_LOCATE_TOP, type LocateOptions, type LocateImageOptions, type LocateResult, type LocatedTile, type LocatedScene } from './locate.js';
export { locateToFeatureCollection } from './locate-geojson.js';
export { renderHeatMap, DEFAULT_HEAT_MAP_SIDE, type HeatMap } from './heat-map.js';
