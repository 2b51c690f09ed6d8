/**
 * A small index for search, server and browser tests, built through the store API with a
 * fake encoder whose vectors are known: each text concept is an axis, each archive image is
 * near the axis of its concept, and an image's bytes embed to the vector stored for it.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../../src/errors.js';
import type { ClipEncoder, ImageSource, ModelInfo, PreprocessedImage } from '../../src/model/index.js';
import { openIndex, type FieldValue, type IndexStore } from '../../src/store/index.js';
import { makePng } from '../fixtures/images.js';

export const DIM = 8;
/** Text concepts and their axes. */
export const CONCEPTS = ['river', 'stadium', 'parking lot', 'forest', 'airport', 'beach'] as const;

export interface FixtureImage {
  rel: string;
  concept: (typeof CONCEPTS)[number];
  /** How far the vector leans towards the next concept's axis. */
  tilt: number;
  seed: number;
}

/** 14 images: two per concept and folder, plus a near-duplicate pair (river/a.png, river/a-copy.png). */
export const FIXTURE_IMAGES: FixtureImage[] = [
  { rel: 'water/river-a.png', concept: 'river', tilt: 0.1, seed: 1 },
  { rel: 'water/river-a-copy.png', concept: 'river', tilt: 0.1001, seed: 2 },
  { rel: 'water/river-b.png', concept: 'river', tilt: 0.5, seed: 3 },
  { rel: 'city/stadium-a.png', concept: 'stadium', tilt: 0.05, seed: 4 },
  { rel: 'city/stadium-b.png', concept: 'stadium', tilt: 0.8, seed: 5 },
  { rel: 'city/parking-a.png', concept: 'parking lot', tilt: 0.1, seed: 6 },
  { rel: 'city/parking-b.png', concept: 'parking lot', tilt: 0.3, seed: 7 },
  { rel: 'green/forest-a.png', concept: 'forest', tilt: 0.1, seed: 8 },
  { rel: 'green/forest-b.png', concept: 'forest', tilt: 0.4, seed: 9 },
  { rel: 'city/airport-a.png', concept: 'airport', tilt: 0.2, seed: 10 },
  { rel: 'city/airport-b.png', concept: 'airport', tilt: 0.6, seed: 11 },
  { rel: 'water/beach-a.png', concept: 'beach', tilt: 0.1, seed: 12 },
  { rel: 'water/beach-b.png', concept: 'beach', tilt: 0.7, seed: 13 },
  { rel: 'green/park.png', concept: 'forest', tilt: -0.3, seed: 14 },
];

export function conceptVector(concept: string, tilt = 0): Float32Array {
  const axis = CONCEPTS.indexOf(concept as (typeof CONCEPTS)[number]);
  const v = new Float32Array(DIM);
  if (axis < 0) {
    // unknown text: a fixed direction off every concept axis
    v[DIM - 1] = 1;
    v[DIM - 2] = 0.5;
  } else {
    v[axis] = 1;
    v[(axis + 1) % CONCEPTS.length] = tilt;
  }
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Embeds texts by concept and images by their bytes; counts calls like the real encoder. */
export class KnownVectorEncoder implements ClipEncoder {
  readonly info: ModelInfo = {
    id: 'test/known-vectors',
    dir: '/nonexistent/known-vectors',
    variant: 'fp32',
    fingerprint: 'k'.repeat(64),
    embeddingDim: DIM,
    contextLength: 77,
    imageSize: 4,
    logitScale: undefined,
  };
  readonly runCount = { text: 0, image: 0 };
  /** Every embedTexts batch, for the micro-batching test. */
  readonly textBatches: string[][] = [];
  private readonly byHash = new Map<string, Float32Array>();

  /** Makes `bytes` embed to `vector` (as if the model had computed it). */
  learn(bytes: Buffer, vector: Float32Array): void {
    this.byHash.set(sha256(bytes), vector);
  }

  /** A token a word, with start and end. */
  textTokens(text: string): number {
    return text.trim().split(/\s+/).length + 2;
  }

  async embedTexts(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) throw new RsclipError('BAD_INPUT', 'no texts to embed');
    this.runCount.text++;
    this.textBatches.push([...texts]);
    await new Promise((resolve) => setTimeout(resolve, 2));
    return texts.map((t) => conceptVector(t.trim().toLowerCase()));
  }

  async preprocess(image: ImageSource): Promise<PreprocessedImage> {
    const bytes = typeof image === 'string' ? await readFile(image) : image;
    if (bytes.length < 8 || bytes.readUInt32BE(0) !== 0x89504e47) {
      throw new RsclipError('IMAGE_UNREADABLE', `cannot decode ${typeof image === 'string' ? image : 'the uploaded bytes'}: not a PNG`);
    }
    const known = this.byHash.get(sha256(bytes));
    const pixels = known ?? conceptVector('unknown image');
    return { pixels: Float32Array.from(pixels), width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), format: 'png' };
  }

  /** Windows of tiled scenes: no learnt vector knows them. */
  preprocessRgb(): Float32Array {
    return Float32Array.from(conceptVector('unknown image'));
  }

  async embedPixels(images: Float32Array[]): Promise<Float32Array[]> {
    this.runCount.image++;
    return images.map((p) => Float32Array.from(p));
  }

  async embedImages(images: ImageSource[]): Promise<Float32Array[]> {
    if (images.length === 0) throw new RsclipError('BAD_INPUT', 'no images to embed');
    return this.embedPixels(await Promise.all(images.map(async (i) => (await this.preprocess(i)).pixels)));
  }

  async close(): Promise<void> {}
}

export interface TestIndex {
  archive: string;
  indexDir: string;
  encoder: KnownVectorEncoder;
  /** Relative path -> images.id. */
  ids: Map<string, number>;
  /** Opens the index read-only, as the server and the CLI do. */
  open(): Promise<IndexStore>;
}

/** Writes the archive PNGs under `root/archive` and the index under `root/index`, with user fields label and year. */
export async function buildTestIndex(root: string): Promise<TestIndex> {
  const archive = path.join(root, 'archive');
  const indexDir = path.join(root, 'index');
  const encoder = new KnownVectorEncoder();
  const store = await openIndex(indexDir, { model: encoder.info, create: true });
  const ids = new Map<string, number>();
  try {
    const changes = FIXTURE_IMAGES.map((img, i) => {
      const bytes = makePng(img.seed, 24 + i, 20 + i);
      const file = path.join(archive, img.rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, bytes);
      // the file's modification time is the one the catalog records, as after a real scan
      utimesSync(file, new Date(Date.UTC(2020, 0, 1 + i)), new Date(Date.UTC(2020, 0, 1 + i)));
      const vector = conceptVector(img.concept, img.tilt);
      encoder.learn(bytes, vector);
      return {
        kind: 'put' as const,
        file: { root: archive, path: img.rel, bytes: bytes.length, mtimeMs: Date.UTC(2020, 0, 1 + i), contentHash: sha256(bytes), width: 24 + i, height: 20 + i, format: 'png' },
        vector,
      };
    });
    const written = await store.commit(changes);
    FIXTURE_IMAGES.forEach((img, i) => ids.set(img.rel, written[i]!.itemIds[0]!));
    await store.importFields(FIXTURE_IMAGES.map((img, i) => ({ fileName: path.basename(img.rel), fields: new Map<string, FieldValue[]>([['label', [img.concept]], ['year', [2010 + i]]]) })));
  } finally {
    await store.close();
  }
  return { archive, indexDir, encoder, ids, open: () => openIndex(indexDir, { readonly: true }) };
}
