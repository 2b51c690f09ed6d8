/**
 * Seeded random footprints for the place tests: windows of synthetic georeferences in UTM zones
 * (some crossing the antimeridian), Web Mercator, PDC Mercator (centred on 150 E), geographic
 * lon/lat past 180, and polar stereographic scenes near and around both poles.
 */
import { seededRandom } from '../../src/eval/random.js';
import { crsFromEpsg, placeOfWindow, type AreaGeometry, type Georeference } from '../../src/geo/index.js';

export { seededRandom };

export interface RandomFootprint {
  id: number;
  footprint: AreaGeometry;
}

function geo(epsg: number, x0: number, y0: number, pixel: number, size: number): Georeference {
  return { crs: crsFromEpsg(epsg), geoTransform: [x0, pixel, 0, y0, 0, -pixel], width: size, height: size, source: 'geotiff' };
}

export function randomFootprints(count: number, seed: number): RandomFootprint[] {
  const rand = seededRandom(seed);
  const out: RandomFootprint[] = [];
  const between = (a: number, b: number) => a + (b - a) * rand();
  while (out.length < count) {
    const kind = Math.floor(rand() * 6);
    const size = 224;
    const pixel = 10 ** between(0, 3.3); // 1 m .. 2 km pixels: footprints from 224 m to 450 km
    let g: Georeference;
    if (kind === 0) {
      const zone = [1, 60, 31, 33, 18][Math.floor(rand() * 5)]!;
      const north = rand() < 0.7;
      g = geo(north ? 32600 + zone : 32700 + zone, between(100_000, 900_000), north ? between(500_000, 9_300_000) : between(800_000, 9_900_000), pixel, size);
    } else if (kind === 1) {
      g = geo(3857, between(-20_037_508, 20_037_508 - size * pixel), between(-15_000_000, 15_000_000), pixel, size);
    } else if (kind === 2) {
      // PDC Mercator: x near 3,300 km east of 150 E is the antimeridian.
      g = geo(3832, between(2_000_000, 4_500_000), between(-8_000_000, 8_000_000), pixel, size);
    } else if (kind === 3) {
      const deg = pixel / 111_000;
      g = { crs: crsFromEpsg(4326), geoTransform: [between(170, 185), deg, 0, between(-60, 70), 0, -deg], width: size, height: size, source: 'geotiff' };
    } else {
      // Polar stereographic: windows near the pole, some containing it.
      const epsg = kind === 4 ? 3413 : 3031;
      const reach = 2_000_000;
      g = geo(epsg, between(-reach, reach), between(-reach, reach), pixel * 4, size);
    }
    const place = placeOfWindow(g, { x: 0, y: 0, width: size, height: size });
    if (place) out.push({ id: out.length + 1, footprint: place.footprint });
  }
  return out;
}
