/**
 * The IndexStore back ends the contract suite runs against. A back end gives a fresh location
 * per test and opens it; `embedded` marks the ones whose files (lock, graph, catalog) tests
 * may touch directly. The embedded back end runs once per vector engine; `engine` is what an
 * index it creates records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelInfo } from '../../src/model/index.js';
import { ENGINE_DEFAULTS, openIndex, type EngineSpec, type IndexStore, type NewFile, type OpenIndexOptions } from '../../src/store/index.js';

export interface Backend {
  name: string;
  embedded: boolean;
  engine: EngineSpec;
  /** A location no index exists at yet, and its clean-up. */
  newLocation(): { location: string; dispose(): void };
  open(location: string, options?: OpenIndexOptions): Promise<IndexStore>;
}

function embedded(engine: EngineSpec): Backend {
  return {
    name: `embedded (catalog.sqlite + ${engine.name} graph file)`,
    embedded: true,
    engine,
    newLocation() {
      const parent = mkdtempSync(path.join(tmpdir(), 'rsclip-store-'));
      return { location: path.join(parent, 'index'), dispose: () => rmSync(parent, { recursive: true, force: true }) };
    },
    // readers look for new commits at every call, so that tests need not wait
    open: (location, options) => openIndex(location, { refreshIntervalMs: 0, ...options, engine: { name: engine.name, ...options?.engine } }),
  };
}

export const BACKENDS: Backend[] = [embedded(ENGINE_DEFAULTS.hnswlib), embedded(ENGINE_DEFAULTS.usearch)];

export const DIM = 8;

export const MODEL: ModelInfo = {
  id: 'test/model-a',
  dir: '/nonexistent',
  variant: 'fp32',
  fingerprint: 'a'.repeat(64),
  embeddingDim: DIM,
  contextLength: 77,
  imageSize: 224,
  logitScale: undefined,
};

export function newFile(rel: string, extra: Partial<NewFile> = {}): NewFile {
  return { root: '/archive', path: rel, bytes: 1000, mtimeMs: 1_700_000_000_000, contentHash: `hash-${rel}`, width: 224, height: 224, format: 'jpeg', ...extra };
}

/** The unit vector of axis i (mod DIM), leaning `tilt` towards the next axis. */
export function axis(i: number, tilt = 0): Float32Array {
  const v = new Float32Array(DIM);
  v[i % DIM] = 1;
  v[(i + 1) % DIM] = tilt;
  return v;
}
