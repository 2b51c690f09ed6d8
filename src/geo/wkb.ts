/**
 * Well-known binary (ISO/OGC simple features, little endian, 2D) and well-known text of the
 * area geometries rsclip writes.
 */
import type { AreaGeometry, Ring } from './geojson-types.js';
import { polygonsOf } from './geojson-types.js';

const WKB_POLYGON = 3;
const WKB_MULTIPOLYGON = 6;

function polygonSize(rings: Ring[]): number {
  return 1 + 4 + 4 + rings.reduce((n, r) => n + 4 + r.length * 16, 0);
}

function writePolygon(view: DataView, at: number, rings: Ring[]): number {
  let p = at;
  view.setUint8(p, 1);
  view.setUint32(p + 1, WKB_POLYGON, true);
  view.setUint32(p + 5, rings.length, true);
  p += 9;
  for (const ring of rings) {
    view.setUint32(p, ring.length, true);
    p += 4;
    for (const [x, y] of ring) {
      view.setFloat64(p, x, true);
      view.setFloat64(p + 8, y, true);
      p += 16;
    }
  }
  return p;
}

/** WKB of a Polygon or MultiPolygon. */
export function geometryToWkb(geometry: AreaGeometry): Uint8Array {
  if (geometry.type === 'Polygon') {
    const bytes = new Uint8Array(polygonSize(geometry.coordinates));
    writePolygon(new DataView(bytes.buffer), 0, geometry.coordinates);
    return bytes;
  }
  const polygons = geometry.coordinates;
  const bytes = new Uint8Array(9 + polygons.reduce((n, rings) => n + polygonSize(rings), 0));
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 1);
  view.setUint32(1, WKB_MULTIPOLYGON, true);
  view.setUint32(5, polygons.length, true);
  let p = 9;
  for (const rings of polygons) p = writePolygon(view, p, rings);
  return bytes;
}

function ringsWkt(rings: Ring[]): string {
  return `(${rings.map((r) => `(${r.map(([x, y]) => `${x} ${y}`).join(', ')})`).join(', ')})`;
}

/** WKT of a Polygon or MultiPolygon (`MULTIPOLYGON EMPTY` for one of no parts: `MULTIPOLYGON ()` is not WKT). */
export function geometryToWkt(geometry: AreaGeometry): string {
  if (geometry.type === 'Polygon') return `POLYGON ${ringsWkt(geometry.coordinates)}`;
  const polygons = polygonsOf(geometry);
  return polygons.length === 0 ? 'MULTIPOLYGON EMPTY' : `MULTIPOLYGON (${polygons.map(ringsWkt).join(', ')})`;
}
