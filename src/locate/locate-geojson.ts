/**
 * A located scene as an RFC 7946 FeatureCollection: one feature per scored tile (its footprint
 * from the catalog's place), best first, with rank, score, key, and `top` marking the boxes kept
 * by suppression. A feature's id is its item id, or its rank for an image tiled on the fly.
 */
import { featureCollection } from '../geo/geojson-writer.js';
import type { LocateResult } from './locate.js';

export function locateToFeatureCollection(result: LocateResult): ReturnType<typeof featureCollection> {
  const top = new Set(result.top.map((t) => t.rank));
  return featureCollection(
    result.tiles.map((tile) => ({
      id: tile.id ?? tile.rank,
      path: result.scene.path,
      window: tile.window,
      footprint: tile.place?.footprint ?? null,
      center: tile.place?.center ?? null,
      gsd: tile.place?.gsd ?? null,
      rank: tile.rank,
      score: tile.score,
      properties: { key: tile.key, item: tile.id, top: top.has(tile.rank) },
    })),
  );
}
