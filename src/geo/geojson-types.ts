/** The GeoJSON geometry shapes rsclip reads and writes (RFC 7946): positions are [lon, lat]. */
export type Position = [number, number];
/** A closed ring: the first and last positions are equal. */
export type Ring = Position[];

export interface Polygon {
  type: 'Polygon';
  coordinates: Ring[];
}

export interface MultiPolygon {
  type: 'MultiPolygon';
  coordinates: Ring[][];
}

/** A footprint or an area: one polygon, or several (e.g. split at the antimeridian). */
export type AreaGeometry = Polygon | MultiPolygon;

/** RFC 7946 bbox [west, south, east, north]; west > east when it crosses the antimeridian. */
export type BBox = [number, number, number, number];

/** A longitude/latitude rectangle with west <= east (never crossing the antimeridian): what a spatial index stores and is queried with. */
export interface LonLatBox {
  west: number;
  south: number;
  east: number;
  north: number;
}

/** The polygons of a geometry as lists of rings. */
export function polygonsOf(geometry: AreaGeometry): Ring[][] {
  return geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
}
