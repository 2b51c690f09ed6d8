/**
 * A run's summary counts the files it indexed with a place and without one, naming a few of the
 * latter and why (place filters never find them); the human summary says so only where it matters
 * (the run placed other files, or a file carried georeferencing rsclip could not use). Ground
 * control points whose affine fit misses them, or that cannot be fitted, are warned about.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { printIndexSummary } from '../../src/cli/index-cmd.js';
import type { IndexSummary } from '../../src/indexer/index.js';
import { writeGeoTiff, type GeoTiffFixtureGeo } from '../fixtures/geotiff-writer.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from './fake-encoder.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-run-places-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let archive: string;
let indexDir: string;
let run = 0;
let warnings: string[];
beforeEach(() => {
  run++;
  archive = path.join(work, `archive-${run}`);
  indexDir = path.join(work, `index-${run}`);
  mkdirSync(archive);
  warnings = [];
  vi.spyOn(process, 'emitWarning').mockImplementation((warning: string | Error) => {
    warnings.push(String(warning));
  });
});
afterEach(() => vi.restoreAllMocks());

function scene(name: string, geo: GeoTiffFixtureGeo): void {
  writeGeoTiff(path.join(archive, name), { width: 600, height: 500, bands: 3, dataType: 'uint8', pixel: (x, y, band) => (x * 3 + y * 5 + band * 70) % 256, geo });
}

function printed(s: IndexSummary): string[] {
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    printIndexSummary(s);
    return String(write.mock.calls[0]![0]).split('\n');
  } finally {
    write.mockRestore();
  }
}

describe('places in the summary of an index run', () => {
  it('counts a mixed archive\'s files without a place, names them with why, and warns about GCPs', async () => {
    scene('placed.tif', { epsg: 32633, origin: [500000, 4650000], pixelSize: [10, 10] });
    // a corner 40 px off the others' plane: the affine fit misses every GCP by ~10 px
    scene('warped-gcps.tif', { epsg: 32633, gcps: [[0, 0, 500000, 4650000], [600, 0, 506000, 4650000], [0, 500, 500000, 4645000], [600, 500, 506400, 4645000]] });
    scene('two-gcps.tif', { epsg: 32633, gcps: [[0, 0, 500000, 4650000], [600, 500, 506000, 4645000]] });
    writeFileSync(path.join(archive, 'photo.png'), makePng(1));
    writeFileSync(path.join(archive, 'world.png'), makePng(2));
    writeFileSync(path.join(archive, 'world.pgw'), '10\n0\n0\n-10\n500005\n4649995\n');
    const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(summary).toMatchObject({ added: 5, errors: 0 });
    expect(summary.places).toMatchObject({ placed: 2, approximate: 1, unplaced: 3, unusable: 2 });
    expect(summary.places!.examples.slice(0, 2).sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: 'two-gcps.tif', why: 'ground control points that cannot be fitted: 2 ground control points, an affine fit needs 3 not on one line' },
      { path: 'world.png', why: 'a world file without a .prj, and no --crs' },
    ]);
    expect(summary.places!.examples[2]).toEqual({ path: 'photo.png', why: 'no georeference' });
    // --json prints the summary as it is
    expect(JSON.parse(JSON.stringify(summary)).places.unplaced).toBe(3);

    expect(warnings).toHaveLength(2);
    expect(warnings.find((w) => w.includes('warped-gcps.tif'))).toMatch(/warped-gcps\.tif: placed by the affine fit of its 4 ground control points, which misses them by up to (9|10)\.\d px \(RMS (9|10)\.\d px; .*approximate/);
    expect(warnings.find((w) => w.includes('two-gcps.tif'))).toMatch(/two-gcps\.tif: indexed without a place: ground control points that cannot be fitted: 2 ground control points/);

    const lines = printed(summary);
    const line = lines.find((l) => l.includes('without a place'));
    expect(line).toMatch(/^ {2}indexed without a place 3 \(place filters never find them\): (two-gcps\.tif|world\.png) \(.*\), (two-gcps\.tif|world\.png) \(.*\), photo\.png \(no georeference\)$/);
    expect(lines).toContain('  placed approximately 1 (an affine fit of ground control points that misses them by more than a pixel; see the warnings)');

    // a second run indexes nothing: it counts nothing and warns about nothing
    warnings.length = 0;
    const again = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(again.places).toMatchObject({ placed: 0, unplaced: 0 });
    expect(warnings).toEqual([]);
    expect(printed(again).some((l) => /without a place|placed approximately/.test(l))).toBe(false);
  });

  it('says nothing of places for an archive of plain photographs', async () => {
    for (let i = 0; i < 3; i++) writeFileSync(path.join(archive, `photo-${i}.png`), makePng(10 + i));
    const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(summary.places).toMatchObject({ placed: 0, unplaced: 3, unusable: 0, approximate: 0 });
    expect(printed(summary).some((l) => /without a place|placed approximately/.test(l))).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('names at most five files and counts the rest', () => {
    const examples = Array.from({ length: 5 }, (_, i) => ({ path: `p${i}.jpg`, why: 'no georeference' }));
    const lines = printed({ ...emptySummary(), places: { placed: 1, approximate: 0, unplaced: 12, unusable: 0, examples } });
    expect(lines).toContain('  indexed without a place 12 (place filters never find them): p0.jpg (no georeference), p1.jpg (no georeference), p2.jpg (no georeference), p3.jpg (no georeference), p4.jpg (no georeference), and 7 more');
  });
});

function emptySummary(): IndexSummary {
  return {
    index: 'data/index',
    scanned: 13,
    added: 13,
    updated: 0,
    removed: 0,
    reused: 0,
    embedded: 13,
    errors: 0,
    unchanged: 0,
    scenes: 0,
    resumed: 0,
    nodataWindows: 0,
    unreadableFolders: [],
    symlinkLoops: [],
    skipped: [],
    interrupted: false,
    seconds: 1,
    modelSeconds: 0.5,
    imagesPerSecond: 13,
    timing: { decodeThreads: 0, batchSize: 2, pipelineSeconds: 1, modelSeconds: 0.5, decodeSeconds: 0, storeSeconds: 0.1, mainThreadSeconds: 0.2, cpuSeconds: 0.3 },
  };
}
