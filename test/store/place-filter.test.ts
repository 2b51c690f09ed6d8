/**
 * Place filters through a store are exact: bbox, near and within give the id sets of a
 * brute-force geometry check over thousands of random footprints (antimeridian, poles), alone,
 * combined with other filters, and through graph search, which never returns fewer than exist.
 */
import booleanIntersects from '@turf/boolean-intersects';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxesToBBox, footprintMatchesPlace, geometryBoxes, polygonsOf, type AreaGeometry, type Place } from '../../src/geo/index.js';
import { catalogFilterSchema, type CatalogFilterJson, type IndexStore } from '../../src/store/index.js';
import { randomFootprints, seededRandom, type RandomFootprint } from '../geo/random-footprints.js';
import { BACKENDS, DIM, MODEL, newFile } from './backends.js';

const FOOTPRINTS = randomFootprints(3000, 11);
const rand = seededRandom(5);

function randomUnit(): Float32Array {
  const v = Float32Array.from({ length: DIM }, () => rand() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const turfPolygons = (g: AreaGeometry) => polygonsOf(g).map((rings) => ({ type: 'Polygon' as const, coordinates: rings }));

function bruteForce(place: Place, among: RandomFootprint[]): number[] {
  if (place.kind === 'near') return among.filter((f) => footprintMatchesPlace(place, f.footprint)).map((f) => f.id);
  const areas =
    place.kind === 'within'
      ? turfPolygons(place.geometry)
      : (place.west <= place.east ? [[place.west, place.east]] : [[place.west, 180], [-180, place.east]]).map(([w, e]) => ({
          type: 'Polygon' as const,
          coordinates: [[[w!, place.south], [e!, place.south], [e!, place.north], [w!, place.north], [w!, place.south]]],
        }));
  return among.filter((f) => turfPolygons(f.footprint).some((p) => areas.some((a) => booleanIntersects(p, a)))).map((f) => f.id);
}

const QUERIES: CatalogFilterJson[] = [
  { bbox: [-10, 35, 30, 60] },
  { bbox: [170, -50, -170, 10] }, // across the antimeridian
  { bbox: [-180, 75, 180, 90] }, // the north polar cap
  { bbox: [-180, -90, 180, 90] }, // everything: graph search with a predicate
  { near: { lon: 179.5, lat: 10, radius: '800km' } },
  { near: { lon: 0, lat: -89.5, radius: 300_000 } },
  { near: { lon: 12.5, lat: 41.9 } },
  { within: { type: 'Polygon', coordinates: [[[-20, -20], [60, -10], [40, 50], [-30, 30], [-20, -20]]] } },
  {
    within: {
      type: 'MultiPolygon',
      coordinates: [
        [[[175, 50], [180, 50], [180, 70], [175, 70], [175, 50]]],
        [[[-180, 50], [-170, 50], [-170, 70], [-180, 70], [-180, 50]]],
      ],
    },
  },
];

describe.each(BACKENDS)('place filters through a store: $name', (backend) => {
  let store: IndexStore;
  let dispose: () => void;
  /** Item id -> footprint id, and the items of even footprints (a second filter). */
  const footprintOf = new Map<number, RandomFootprint>();
  const evenItems = new Set<number>();

  beforeAll(async () => {
    const where = backend.newLocation();
    dispose = where.dispose;
    store = await backend.open(where.location, { model: MODEL, create: true });
    for (let start = 0; start < FOOTPRINTS.length; start += 500) {
      const batch = FOOTPRINTS.slice(start, start + 500);
      const results = await store.commit(
        batch.map((f) => ({
          kind: 'put' as const,
          file: newFile(`${f.id % 2 === 0 ? 'even' : 'odd'}/scene${f.id}.tif`, { plan: 'tiles' }),
          items: [
            {
              key: 's1:0,0',
              window: { x: 0, y: 0, width: 224, height: 224, scale: 1 },
              place: { footprint: f.footprint, bbox: boxesToBBox(geometryBoxes(f.footprint))!, center: [0, 0], nativeBounds: [0, 0, 224, 224], gsd: 1 },
              vector: randomUnit(),
            },
          ],
          complete: true,
        })),
      );
      results.forEach((r, i) => {
        footprintOf.set(r.itemIds[0]!, batch[i]!);
        if (batch[i]!.id % 2 === 0) evenItems.add(r.itemIds[0]!);
      });
    }
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    dispose?.();
  });

  const footprintIds = (itemIds: number[]) => itemIds.map((id) => footprintOf.get(id)!.id).sort((a, b) => a - b);

  it.each(QUERIES.map((q) => [JSON.stringify(q).slice(0, 60), q] as const))('%s matches the brute-force check', async (_name, json) => {
    const filter = catalogFilterSchema.parse(json);
    const place = (filter.bbox ?? filter.near ?? filter.within)!;
    const expected = bruteForce(place, FOOTPRINTS);
    expect(footprintIds(await store.listItemIds({ filter }))).toEqual(expected);
    expect(await store.countItems({ filter })).toBe(expected.length);
    // with another filter
    const even = FOOTPRINTS.filter((f) => f.id % 2 === 0);
    expect(footprintIds(await store.listItemIds({ filter: { ...filter, folder: 'even' } }))).toEqual(bruteForce(place, even));
    // searches: exactly the best of the allowed items, never fewer than exist
    const query = randomUnit();
    const k = 50;
    const exact = await store.search(query, k, { filter, exact: true });
    expect(exact).toHaveLength(Math.min(k, expected.length));
    expect(exact.every((r) => expected.includes(footprintOf.get(r.id)!.id))).toBe(true);
    const graph = await store.search(query, k, { filter });
    expect(graph).toHaveLength(exact.length);
    expect(graph.every((r) => expected.includes(footprintOf.get(r.id)!.id))).toBe(true);
    const overlap = graph.filter((r) => exact.some((e) => e.id === r.id)).length;
    expect(overlap).toBeGreaterThanOrEqual(Math.floor(0.9 * exact.length));
  }, 60_000);

  it('combines several places (all must hold)', async () => {
    const filter = catalogFilterSchema.parse({ bbox: [-180, -60, 180, 60], within: QUERIES[7]!.within });
    const within = new Set(bruteForce(filter.within!, FOOTPRINTS));
    const both = bruteForce(filter.bbox!, FOOTPRINTS).filter((id) => within.has(id));
    expect(footprintIds(await store.listItemIds({ filter }))).toEqual(both);
    expect(evenItems.size).toBe(1500);
  }, 60_000);
});
