/**
 * GeoJSON FeatureCollection output (RFC 7946): [lon, lat] positions, exterior rings
 * counter-clockwise and holes clockwise, footprints split at the antimeridian (as `placeOfWindow`
 * makes them), a `bbox` member on every feature with a place and on the collection (west > east
 * when it crosses the antimeridian). Properties: path, root (when known), window, centre, GSD and the row's fields.
 */
import type { AreaGeometry, BBox, LonLatBox, Ring } from './geojson-types.js';
import { boxesToBBox, geometryBoxes, signedArea } from './lonlat-ring.js';
import type { Output } from '../output-descriptor.js';
import { TextFileStream, type ExportRow, type RowWriter } from './export-row.js';

function orientRings(rings: Ring[]): Ring[] {
  return rings.map((ring, i) => ((i === 0) === signedArea(ring) < 0 ? [...ring].reverse() : ring));
}

/** The geometry with RFC 7946 ring orientation. */
export function rfc7946Orientation(geometry: AreaGeometry): AreaGeometry {
  return geometry.type === 'Polygon'
    ? { type: 'Polygon', coordinates: orientRings(geometry.coordinates) }
    : { type: 'MultiPolygon', coordinates: geometry.coordinates.map(orientRings) };
}

export interface GeoJsonFeature {
  type: 'Feature';
  id: number;
  bbox?: BBox;
  geometry: AreaGeometry | null;
  properties: Record<string, unknown>;
}

export interface GeoJsonOptions {
  /** Write each row's embedding as a property (an array of numbers); default false. */
  includeEmbedding?: boolean;
}

export function rowToFeature(row: ExportRow, options: GeoJsonOptions = {}): GeoJsonFeature {
  const properties: Record<string, unknown> = {
    path: row.path,
    ...(row.root ? { root: row.root } : {}),
    window: row.window,
    ...(row.center ? { center: row.center } : {}),
    ...(row.gsd !== undefined && row.gsd !== null ? { gsd: row.gsd } : {}),
    ...(row.rank === undefined ? {} : { rank: row.rank, score: row.score }),
    ...row.properties,
    ...(row.stac ? { stac: row.stac } : {}),
    ...(row.fields ? { fields: row.fields } : {}),
  };
  if (options.includeEmbedding && row.embedding) properties.embedding = Array.from(row.embedding);
  if (!row.footprint) return { type: 'Feature', id: row.id, geometry: null, properties };
  const geometry = rfc7946Orientation(row.footprint);
  return { type: 'Feature', id: row.id, bbox: boxesToBBox(geometryBoxes(geometry)), geometry, properties };
}

/** A whole FeatureCollection in memory (for search results). */
export function featureCollection(rows: readonly ExportRow[], options: GeoJsonOptions = {}): { type: 'FeatureCollection'; bbox?: BBox; features: GeoJsonFeature[] } {
  const features = rows.map((r) => rowToFeature(r, options));
  const bbox = boxesToBBox(features.flatMap((f) => (f.geometry ? geometryBoxes(f.geometry) : [])));
  return bbox ? { type: 'FeatureCollection', bbox, features } : { type: 'FeatureCollection', features };
}

/** Streams a FeatureCollection to a file; the collection's bbox member is written after the features. */
export function createGeoJsonWriter(file: Output, options: GeoJsonOptions = {}): RowWriter {
  const stream = new TextFileStream(file);
  let count = 0;
  const boxes: LonLatBox[] = [];
  let started = false;
  return {
    async write(rows) {
      let text = started ? '' : '{"type":"FeatureCollection","features":[\n';
      started = true;
      for (const row of rows) {
        const feature = rowToFeature(row, options);
        if (feature.geometry) boxes.push(...geometryBoxes(feature.geometry));
        text += `${count > 0 ? ',\n' : ''}${JSON.stringify(feature)}`;
        count++;
      }
      await stream.write(text);
    },
    async close() {
      const bbox = boxesToBBox(boxes);
      await stream.end(`${started ? '' : '{"type":"FeatureCollection","features":['}\n]${bbox ? `,"bbox":${JSON.stringify(bbox)}` : ''}}\n`);
      return count;
    },
    abort: () => stream.abort(),
  };
}
