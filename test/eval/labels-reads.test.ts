/**
 * What `evaluateLabels` reads of an index: only the vectors of the items it scores (those with a
 * label among the classes), in bounded chunks; and the chunked scoring gives the very numbers
 * of scoring all images at once. The store is wrapped to record every getVectors call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { evaluateLabels } from '../../src/eval/index.js';
import { PREDICTION_KS } from '../../src/eval/predictions.js';
import { classifyZeroShot } from '../../src/eval/zero-shot.js';
import { ZeroShotAccumulator } from '../../src/eval/zero-shot-chunks.js';
import type { ModelInfo } from '../../src/model/index.js';
import { TextOnlyEncoder } from './text-only-encoder.js';
import type * as OpenIndexModule from '../../src/store/open-index.js';
import type { IndexStore } from '../../src/store/types.js';

/** Ids asked of getVectors, one list per call, by every store opened. */
const vectorReads: number[][] = [];

vi.mock('../../src/store/open-index.js', async (importOriginal) => {
  const original = await importOriginal<typeof OpenIndexModule>();
  return {
    ...original,
    openIndex: async (...args: Parameters<typeof original.openIndex>): Promise<IndexStore> => {
      const store = await original.openIndex(...args);
      return new Proxy(store, {
        get(target, property, receiver) {
          if (property === 'getVectors') {
            return (ids: readonly number[]) => {
              vectorReads.push([...ids]);
              return target.getVectors(ids);
            };
          }
          const value: unknown = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
});

const { openIndex } = await import('../../src/store/open-index.js');

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-labels-reads-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DIM = 8;
const CLASSES = ['a', 'b', 'c', 'd'];

/** A seeded unit vector. */
function unitVector(seed: number): Float32Array {
  let state = seed * 2654435761 + 1;
  const v = new Float32Array(DIM);
  let norm = 0;
  for (let d = 0; d < DIM; d++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    v[d] = state / 2147483648 - 0.5;
    norm += v[d]! * v[d]!;
  }
  for (let d = 0; d < DIM; d++) v[d]! /= Math.sqrt(norm);
  return v;
}

/** Class names embed to seeded vectors of their own. */
class SeededTextEncoder extends TextOnlyEncoder {
  readonly info: ModelInfo = { id: 'seeded-text', dir: '/nonexistent/seeded-text', variant: 'fp32', fingerprint: 'd'.repeat(64), embeddingDim: DIM, contextLength: 77, imageSize: 4, logitScale: undefined };
  async embedTexts(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => unitVector(1000 + CLASSES.findIndex((c) => t.endsWith(` ${c}`))));
  }
}

describe('eval labels reads only the vectors of the items it scores', () => {
  const encoder = new SeededTextEncoder();
  const indexDir = path.join(work, 'index');
  /** Item ids by folder (`a`..`d`, and `loose` for the files at the root). */
  const idsOf = new Map<string, number[]>();
  const PER_CLASS = [3, 5, 400, 2];

  beforeAll(async () => {
    const store = await openIndex(indexDir, { create: true, model: encoder.info });
    try {
      let seed = 0;
      const put = async (folder: string, count: number): Promise<void> => {
        const changes = Array.from({ length: count }, (_, i) => ({
          kind: 'put' as const,
          file: { root: work, path: folder === 'loose' ? `loose_${i}.png` : `${folder}/${i}.png`, bytes: 1, mtimeMs: 0, contentHash: `${folder}/${i}`, width: 4, height: 4, format: 'png' },
          vector: unitVector(seed++),
        }));
        idsOf.set(folder, (await store.commit(changes)).flatMap((c) => c.itemIds));
      };
      for (const [c, className] of CLASSES.entries()) await put(className, PER_CLASS[c]!);
      await put('loose', 50);
    } finally {
      await store.close();
    }
  });

  beforeEach(() => {
    vectorReads.length = 0;
  });

  it('with a class subset: no vector of another class or of an unlabelled image is read', async () => {
    const report = await evaluateLabels({ index: indexDir, model: encoder, labelsFromFolders: true, classes: ['a', 'b'], bootstrap: { resamples: 100 } });
    expect(report.zeroShot.images).toBe(8);
    expect(report.excluded).toEqual({ unlabelled: 50, otherClass: 402 });
    const read = vectorReads.flat();
    expect(new Set(read)).toEqual(new Set([...idsOf.get('a')!, ...idsOf.get('b')!]));
    expect(read).toHaveLength(8);
  });

  it('with every class: only the labelled items, in chunks no larger than a bound', async () => {
    const report = await evaluateLabels({ index: indexDir, model: encoder, labelsFromFolders: true, bootstrap: { resamples: 100 } });
    expect(report.zeroShot.classes).toEqual(CLASSES);
    expect(report.zeroShot.images).toBe(410);
    const read = vectorReads.flat();
    expect(read).toHaveLength(410);
    expect(read.some((id) => idsOf.get('loose')!.includes(id))).toBe(false);
    for (const chunk of vectorReads) expect(chunk.length).toBeLessThanOrEqual(4096);
  });
});

describe('zero-shot scored chunk by chunk', () => {
  it('gives the numbers and outcomes of scoring every image at once, ties included', () => {
    const classVectors = CLASSES.map((_, c) => unitVector(500 + c));
    // a repeated class vector ties two columns; a zero image vector ties them all
    classVectors.push(classVectors[1]!);
    const classes = [...CLASSES, 'b-again'];
    const n = 257;
    const imageVectors = Array.from({ length: n }, (_, i) => (i % 50 === 7 ? new Float32Array(DIM) : unitVector(i)));
    const labels = Array.from({ length: n }, (_, i) => (i * 7) % classes.length);
    const fileNames = imageVectors.map((_, i) => `/archive/${i}.png`);
    const whole = classifyZeroShot({ fileNames, imageVectors, labels, classes, classVectors, logitScale: 100, ks: PREDICTION_KS, predictionsPerImage: 10 });
    for (const size of [1, 10, 64, n]) {
      const accumulator = new ZeroShotAccumulator(classes, classVectors, PREDICTION_KS);
      for (let start = 0; start < n; start += size) accumulator.add(fileNames.slice(start, start + size), imageVectors.slice(start, start + size), labels.slice(start, start + size));
      const chunked = accumulator.finish();
      expect(chunked.scores).toEqual(whole.scores);
      expect(chunked.perClass).toEqual(whole.perClass);
      expect(chunked.outcomes).toEqual(whole.outcomes);
    }
  });
});
