/**
 * An index is bound to the bytes of one variant's ONNX files, so a cache entry never changes the
 * files of a variant it holds: adding int8 to a repository whose ONNX files are fp32 only keeps
 * the repository's fp32 files, and a repair or a refresh keeps (or makes again, identically) the
 * variants the entry held.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomClipModel } from '../../../src/model/export/index.js';
import { writeManifest } from '../../../src/model/hub/cache-manifest.js';
import { fetchModel, type FetchModelOptions } from '../../../src/model/hub/index.js';
import { openModelDirectory } from '../../../src/model/model-dir.js';
import { startHubServer, type HubServer } from '../../fixtures/hub-server.js';
import { buildTinyHubRepos } from './hub-repos.js';

const ONNX = ['onnx/vision_model.onnx', 'onnx/text_model.onnx', 'onnx/vision_model_quantized.onnx', 'onnx/text_model_quantized.onnx'];

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The sha256 of each ONNX file of `dir` (absent ones left out): compared as text, since a diff of megabytes of bytes takes minutes. */
function onnxBytes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of ONNX) {
    try {
      out[file] = sha256(readFileSync(path.join(dir, file)));
    } catch {
      // absent
    }
  }
  return out;
}

describe('fetchModel keeps the variants of a cache entry', () => {
  let hub: HubServer;
  let work: string;
  let onnxFiles: Record<string, Uint8Array>;
  let torchFiles: Record<string, Uint8Array>;
  /**
   * An ONNX repository whose fp32 files are not what rsclip's export of its weights gives (as for
   * any repository exported by optimum): its ONNX files come from another random model.
   */
  let otherOnnxFiles: Record<string, Uint8Array>;
  let cacheCount = 0;

  beforeAll(async () => {
    hub = await startHubServer();
    work = await mkdtemp(path.join(tmpdir(), 'rsclip-hub-variants-'));
    ({ onnxFiles, torchFiles } = await buildTinyHubRepos(work));
    const other = await writeRandomClipModel(path.join(work, 'other-random-clip'), { size: 'tiny', seed: 29 });
    otherOnnxFiles = { ...onnxFiles };
    for (const file of ['onnx/vision_model.onnx', 'onnx/text_model.onnx']) otherOnnxFiles[file] = readFileSync(path.join(other, file));
  });
  afterAll(async () => {
    await hub.close();
    await rm(work, { recursive: true, force: true });
  });

  const fetcher = (repoId: string): ((options?: FetchModelOptions) => ReturnType<typeof fetchModel>) => {
    const cacheDir = path.join(work, `cache-${++cacheCount}`);
    return (options = {}) => fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, token: '', ...options });
  };

  it('adds int8 to a repository whose ONNX files are fp32 only without touching its fp32 files, and --refresh keeps the int8 ones', async () => {
    // the random model's directory holds model.safetensors beside its fp32 ONNX files: weights to export int8 from
    const repoId = 'tests/variants-onnx-fp32';
    hub.addRepo({ id: repoId, files: otherOnnxFiles });
    const fetch = fetcher(repoId);
    const fp32 = await fetch();
    const repoFp32 = { 'onnx/vision_model.onnx': sha256(otherOnnxFiles['onnx/vision_model.onnx']!), 'onnx/text_model.onnx': sha256(otherOnnxFiles['onnx/text_model.onnx']!) };
    expect(repoFp32['onnx/text_model.onnx']).not.toBe(sha256(onnxFiles['onnx/text_model.onnx']!));
    expect(onnxBytes(fp32.modelDir)).toEqual(repoFp32);

    const int8 = await fetch({ variant: 'int8' });
    expect(int8).toMatchObject({ modelDir: fp32.modelDir, fromCache: false, exported: true });
    const withInt8 = onnxBytes(int8.modelDir);
    expect(Object.keys(withInt8).sort()).toEqual([...ONNX].sort());
    // the repository's fp32 files, as they are: an index built on them still finds its model
    expect(withInt8['onnx/vision_model.onnx']).toEqual(repoFp32['onnx/vision_model.onnx']);
    expect(withInt8['onnx/text_model.onnx']).toEqual(repoFp32['onnx/text_model.onnx']);
    // the weights read by the export are not part of the model directory
    expect(await readdir(int8.modelDir)).not.toContain('model.safetensors');
    openModelDirectory(int8.modelDir, { variant: 'int8' });

    // --refresh reads every file against the listing and the manifest: nothing differs, nothing is dropped
    await expect(fetch({ refresh: true })).resolves.toMatchObject({ fromCache: true });
    await expect(fetch({ refresh: true, variant: 'int8' })).resolves.toMatchObject({ fromCache: true });
    expect(onnxBytes(int8.modelDir)).toEqual(withInt8);

    // `up` (int8 where the repository can give it) after an fp32 fetch: the same
    const upFetch = fetcher(repoId);
    const upFp32 = await upFetch();
    await upFetch({ variant: 'int8', acceptFp32: true });
    expect(onnxBytes(upFp32.modelDir)).toEqual(withInt8);
  });

  it('restores a damaged fp32 file of a repository\'s ONNX with --refresh and keeps the int8 files exported beside it', async () => {
    const repoId = 'tests/variants-onnx-refresh';
    hub.addRepo({ id: repoId, files: otherOnnxFiles });
    const fetch = fetcher(repoId);
    const { modelDir } = await fetch({ variant: 'int8' });
    const before = onnxBytes(modelDir);
    const text = path.join(modelDir, 'onnx', 'text_model.onnx');
    const flipped = readFileSync(text);
    flipped[flipped.length - 10]! ^= 0xff;
    writeFileSync(text, flipped);
    await expect(fetch({ refresh: true })).resolves.toMatchObject({ fromCache: false });
    expect(onnxBytes(modelDir)).toEqual(before);
  });

  it('repairs a damaged exported file with a plain fetch or --refresh and keeps the int8 files of an int8 entry', async () => {
    const repoId = 'tests/variants-ckpt';
    hub.addRepo({ id: repoId, files: torchFiles });
    const fetch = fetcher(repoId);
    const { modelDir } = await fetch({ variant: 'int8' });
    const before = onnxBytes(modelDir);
    expect(Object.keys(before).sort()).toEqual([...ONNX].sort());

    // the fp32 text tower cut short, repaired by the fetch every error recommends (fp32, the default)
    await truncate(path.join(modelDir, 'onnx', 'text_model.onnx'), 1000);
    await expect(fetch()).resolves.toMatchObject({ fromCache: false, exported: true });
    expect(onnxBytes(modelDir)).toEqual(before);
    openModelDirectory(modelDir, { variant: 'int8' });

    // an int8 file cut short: made again by an fp32 --refresh too
    await truncate(path.join(modelDir, 'onnx', 'vision_model_quantized.onnx'), 1000);
    await expect(fetch({ refresh: true })).resolves.toMatchObject({ fromCache: false, exported: true });
    expect(onnxBytes(modelDir)).toEqual(before);
  });

  it('keeps an intact exported file as it is when the repair exports again, even where the new export would differ', async () => {
    const repoId = 'tests/variants-ckpt-older-export';
    hub.addRepo({ id: repoId, files: torchFiles });
    const fetch = fetcher(repoId);
    const { modelDir } = await fetch({ variant: 'int8' });
    // as if an earlier rsclip had exported the int8 text tower otherwise (here: the fp32 graph, which opens as well)
    const older = readFileSync(path.join(modelDir, 'onnx', 'text_model.onnx'));
    writeFileSync(path.join(modelDir, 'onnx', 'text_model_quantized.onnx'), older);
    await writeManifest(modelDir, modelDir);
    const before = onnxBytes(modelDir);

    await truncate(path.join(modelDir, 'onnx', 'vision_model.onnx'), 1000);
    await expect(fetch()).resolves.toMatchObject({ fromCache: false, exported: true });
    expect(onnxBytes(modelDir)).toEqual(before);
  });
});
