import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRsclipError, type RsclipError } from '../../../src/errors.js';
import { fetchModel, type FetchModelOptions, type FetchProgressEvent } from '../../../src/model/hub/index.js';
import { openModelDirectory } from '../../../src/model/model-dir.js';
import { startHubServer, type HubServer } from '../../fixtures/hub-server.js';
import { freePort } from '../../fixtures/local-server.js';
import { buildTinyHubRepos } from './hub-repos.js';


async function filesIn(dir: string, prefix = ''): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(...(entry.isDirectory() ? await filesIn(dir, rel) : [rel]));
  }
  return out.sort();
}

/** The ONNX repository without the model.safetensors the random model writes beside its ONNX files: ONNX and nothing to export from. */
const withoutWeights = (files: Record<string, Uint8Array>): Record<string, Uint8Array> => Object.fromEntries(Object.entries(files).filter(([name]) => name !== 'model.safetensors'));

describe('fetchModel against a local Hub', () => {
  let hub: HubServer;
  let work: string;
  let onnxFiles: Record<string, Uint8Array>;
  let torchFiles: Record<string, Uint8Array>;
  let cacheCount = 0;

  const newCache = (): string => path.join(work, `cache-${++cacheCount}`);
  const fetchFrom = (repoId: string, options: FetchModelOptions = {}): ReturnType<typeof fetchModel> =>
    fetchModel({ repoId, endpoint: hub.endpoint, cacheDir: newCache(), token: '', ...options });
  const requestsFor = (repoId: string): typeof hub.requests => hub.requests.filter((r) => r.path.includes(repoId));

  beforeAll(async () => {
    // small pages, so every listing in these tests follows the Link header like a long Hub listing
    hub = await startHubServer({ treePageSize: 4 });
    work = await mkdtemp(path.join(tmpdir(), 'rsclip-hub-'));
    ({ onnxFiles, torchFiles } = await buildTinyHubRepos(work));
  });
  afterAll(async () => {
    await hub.close();
    await rm(work, { recursive: true, force: true });
  });

  it('fetches a repository with ONNX files as a model directory, following redirects for LFS files', async () => {
    const commit = hub.addRepo({ id: 'tests/clip-onnx', files: onnxFiles });
    const result = await fetchFrom('tests/clip-onnx');
    expect(result).toMatchObject({ commit, fromCache: false, exported: false });
    expect(result.modelDir).toBe(result.cachedDir);
    expect(result.cachedDir.endsWith(path.join('models', 'tests--clip-onnx', commit))).toBe(true);
    expect(openModelDirectory(result.modelDir).onnx.vision).toBe(path.join(result.modelDir, 'onnx', 'vision_model.onnx'));
    for (const file of ['config.json', 'onnx/vision_model.onnx', 'onnx/text_model.onnx']) {
      expect(readFileSync(path.join(result.modelDir, file)).equals(Buffer.from(onnxFiles[file]!)), file).toBe(true);
    }
    expect(existsSync(path.join(result.modelDir, 'README.md'))).toBe(false);
    expect(requestsFor('tests/clip-onnx').some((r) => r.path.startsWith('/cdn/'))).toBe(true);
    expect(requestsFor('tests/clip-onnx').some((r) => r.path.includes('/tree/') && r.path.includes('cursor='))).toBe(true);
    expect(result.downloadedBytes).toBeGreaterThan(onnxFiles['onnx/vision_model.onnx']!.length);
  });

  it('answers a second fetch of a cached revision from the cache with no request at all, even offline', async () => {
    hub.addRepo({ id: 'tests/clip-cached', files: onnxFiles });
    const cacheDir = newCache();
    const first = await fetchModel({ repoId: 'tests/clip-cached', endpoint: hub.endpoint, cacheDir });
    const before = hub.requests.length;
    const second = await fetchModel({ repoId: 'tests/clip-cached', endpoint: hub.endpoint, cacheDir });
    expect(hub.requests.length).toBe(before);
    expect(second).toMatchObject({ fromCache: true, downloadedBytes: 0, modelDir: first.modelDir });
    const offline = await fetchModel({ repoId: 'tests/clip-cached', endpoint: `http://127.0.0.1:${await freePort()}`, cacheDir });
    expect(offline.modelDir).toBe(first.modelDir);
    const pinned = await fetchModel({ repoId: 'tests/clip-cached', revision: first.commit, endpoint: hub.endpoint, cacheDir });
    expect(pinned).toMatchObject({ fromCache: true, modelDir: first.modelDir });
    expect(hub.requests.length).toBe(before);

    const out = path.join(work, 'out-copy');
    const copied = await fetchModel({ repoId: 'tests/clip-cached', endpoint: hub.endpoint, cacheDir, outDir: out });
    expect(copied.modelDir).toBe(out);
    expect(openModelDirectory(out).dir).toBe(out);
  });

  it('trusts the cached ref until asked to refresh, then follows the moved branch', async () => {
    const repoId = 'tests/clip-moving';
    const cacheDir = newCache();
    const oldCommit = hub.addRepo({ id: repoId, files: onnxFiles });
    await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir });
    const newCommit = hub.addRepo({ id: repoId, files: { ...onnxFiles, 'README.md': Buffer.from('# moved\n') } });
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir })).resolves.toMatchObject({ commit: oldCommit, fromCache: true });
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, refresh: true })).resolves.toMatchObject({ commit: newCommit, fromCache: false });
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir })).resolves.toMatchObject({ commit: newCommit, fromCache: true });
  });

  it('adds the int8 files of an ONNX repository for --variant int8, fetching again when the cache holds only fp32', async () => {
    const repoId = 'tests/clip-int8';
    const quantized = {
      'onnx/vision_model_quantized.onnx': onnxFiles['onnx/vision_model.onnx']!,
      'onnx/text_model_quantized.onnx': onnxFiles['onnx/text_model.onnx']!,
    };
    hub.addRepo({ id: repoId, files: { ...onnxFiles, ...quantized } });
    const cacheDir = newCache();
    const fp32 = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir });
    expect(openModelDirectory(fp32.modelDir).availableVariants).toEqual(['fp32']);
    const int8 = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, variant: 'int8' });
    expect(int8).toMatchObject({ fromCache: false, modelDir: fp32.modelDir });
    expect(openModelDirectory(int8.modelDir, { variant: 'int8' }).availableVariants).toEqual(['fp32', 'int8']);
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, variant: 'int8' })).resolves.toMatchObject({ fromCache: true });

    // an --out that held another model is replaced whole: its int8 files do not stay beside this one's fp32
    const out = path.join(work, 'out-replaced');
    await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, variant: 'int8', outDir: out });
    hub.addRepo({ id: 'tests/clip-fp32-other', files: onnxFiles });
    await fetchModel({ repoId: 'tests/clip-fp32-other', endpoint: hub.endpoint, cacheDir, outDir: out });
    expect(openModelDirectory(out).availableVariants).toEqual(['fp32']);
    expect(existsSync(path.join(out, 'onnx', 'vision_model_quantized.onnx'))).toBe(false);
    // a file, or a folder of other things, is refused rather than replaced
    const file = path.join(work, 'a-file');
    writeFileSync(file, 'x');
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, outDir: file })).rejects.toMatchObject({ code: 'BAD_INPUT', message: `--out ${file} is a file, not a folder` });
    const documents = path.join(work, 'documents');
    mkdirSync(documents);
    writeFileSync(path.join(documents, 'notes.txt'), 'keep me');
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, outDir: documents })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining(`--out ${documents} is a folder that holds something other than a model directory (notes.txt)`) });
    expect(readFileSync(path.join(documents, 'notes.txt'), 'utf8')).toBe('keep me');

    hub.addRepo({ id: 'tests/clip-fp32-only', files: withoutWeights(onnxFiles) });
    await expect(fetchFrom('tests/clip-fp32-only', { variant: 'int8' })).rejects.toMatchObject({
      code: 'MODEL_FETCH_FAILED',
      message: expect.stringContaining('onnx/vision_model_quantized.onnx'),
    });
  });

  it('refuses an --out folder holding anything a model directory does not, config.json or not, and leaves it as it was', async () => {
    const repoId = 'tests/clip-out-guard';
    hub.addRepo({ id: repoId, files: onnxFiles });
    const cacheDir = newCache();
    const project = path.join(work, 'myproject');
    mkdirSync(path.join(project, 'src'), { recursive: true });
    writeFileSync(path.join(project, 'config.json'), '{"port":80}');
    writeFileSync(path.join(project, 'src', 'main.ts'), 'code');
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, outDir: project })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('(src/)'),
    });
    expect(readFileSync(path.join(project, 'src', 'main.ts'), 'utf8')).toBe('code');

    const checkpoint = path.join(work, 'my-checkpoint');
    mkdirSync(checkpoint);
    for (const name of ['config.json', 'preprocessor_config.json', 'vocab.json', 'merges.txt']) writeFileSync(path.join(checkpoint, name), Buffer.from(torchFiles[name]!));
    writeFileSync(path.join(checkpoint, 'pytorch_model.bin'), Buffer.from(torchFiles['pytorch_model.bin']!));
    writeFileSync(path.join(checkpoint, 'train.log'), 'epoch 1');
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, outDir: checkpoint })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('(pytorch_model.bin, train.log)'),
    });
    expect(readFileSync(path.join(checkpoint, 'train.log'), 'utf8')).toBe('epoch 1');

    // a folder holding only a model directory's files (an earlier fetch, int8 included) is replaced
    const previous = path.join(work, 'previous-model');
    await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, outDir: previous });
    writeFileSync(path.join(previous, 'onnx', 'vision_model_quantized.onnx'), 'older');
    await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, outDir: previous });
    expect(existsSync(path.join(previous, 'onnx', 'vision_model_quantized.onnx'))).toBe(false);
  });

  it('reports a file that the listing names but the server answers with 404', async () => {
    hub.addRepo({ id: 'tests/clip-missing', files: onnxFiles });
    hub.hide('tests/clip-missing', 'onnx/text_model.onnx');
    const cacheDir = newCache();
    const error = await fetchModel({ repoId: 'tests/clip-missing', endpoint: hub.endpoint, cacheDir }).catch((e: unknown) => e);
    expect(isRsclipError(error, 'MODEL_FETCH_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/onnx\/text_model\.onnx.*404/);
    const files = await filesIn(path.join(cacheDir, 'models', 'tests--clip-missing'));
    // no complete revision, and no empty partial file for the file that sent nothing
    expect(files.filter((f) => /^[0-9a-f]{40}\//.test(f) || f.endsWith('text_model.onnx.incomplete'))).toEqual([]);
  });

  it('reports unknown repositories and revisions as MODEL_NOT_FOUND', async () => {
    await expect(fetchFrom('tests/no-such-repo')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining('tests/no-such-repo') });
    hub.addRepo({ id: 'tests/clip-revisions', files: onnxFiles });
    await expect(fetchFrom('tests/clip-revisions', { revision: 'v9' })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining('revision v9') });
  });

  it('sends HF_TOKEN and says to set it when the Hub refuses access', async () => {
    hub.addRepo({ id: 'tests/clip-gated', files: onnxFiles });
    hub.requireToken('tests/clip-gated', 'hf_secret');
    const error = await fetchFrom('tests/clip-gated').catch((e: unknown) => e);
    expect(isRsclipError(error, 'MODEL_FETCH_FAILED') && error.hint).toContain('HF_TOKEN');
    await expect(fetchFrom('tests/clip-gated', { token: 'hf_secret' })).resolves.toMatchObject({ fromCache: false });
  });

  it('resumes a download that broke off with a Range request on the rerun, byte-identical', async () => {
    const repoId = 'tests/clip-cut';
    const file = 'onnx/text_model.onnx';
    const commit = hub.addRepo({ id: repoId, files: onnxFiles });
    hub.cutNextDownload(repoId, file, 65_536);
    const cacheDir = newCache();
    const options = { repoId, endpoint: hub.endpoint, cacheDir, retries: 0 };
    const error = await fetchModel(options).catch((e: unknown) => e);
    expect(isRsclipError(error, 'MODEL_FETCH_FAILED') && error.message).toContain('broke off');
    const partial = path.join(cacheDir, 'models', 'tests--clip-cut', 'downloads', commit, 'onnx', 'text_model.onnx.incomplete');
    const kept = (await stat(partial)).size;
    expect(kept).toBeGreaterThan(0);
    expect(existsSync(partial.replace(/\.incomplete$/, ''))).toBe(false);

    const result = await fetchModel(options);
    // the Range header survives the resolve URL's redirect to the CDN
    expect(requestsFor(repoId).some((r) => r.path.startsWith('/cdn/') && r.range === `bytes=${kept}-`)).toBe(true);
    expect(readFileSync(path.join(result.modelDir, file)).equals(Buffer.from(onnxFiles[file]!))).toBe(true);
    expect(result.downloadedBytes).toBeLessThan(Object.values(onnxFiles).reduce((a, b) => a + b.length, 0));
  });

  it.skipIf(!existsSync('/dev/full'))('reports a full disk at once, without retrying the transfer', async () => {
    const repoId = 'tests/clip-disk-full';
    const file = 'onnx/text_model.onnx';
    const commit = hub.addRepo({ id: repoId, files: onnxFiles });
    const cacheDir = newCache();
    // every write to the partial file fails as on a full disk
    const partial = path.join(cacheDir, 'models', 'tests--clip-disk-full', 'downloads', commit, 'onnx', 'text_model.onnx.incomplete');
    await mkdir(path.dirname(partial), { recursive: true });
    await symlink('/dev/full', partial);
    const error = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, retries: 3 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENOSPC', syscall: 'write', path: partial });
    expect(requestsFor(repoId).filter((r) => r.path.endsWith(`/resolve/${commit}/${file}`))).toHaveLength(1);
    expect(existsSync(partial.replace(/\.incomplete$/, ''))).toBe(false);
  });

  it('starts a file over when the server answers a Range request with 200 and the whole file', async () => {
    const repoId = 'tests/clip-no-range';
    const file = 'onnx/vision_model.onnx';
    hub.addRepo({ id: repoId, files: onnxFiles });
    hub.cutNextDownload(repoId, file, 20_000);
    const cacheDir = newCache();
    const options = { repoId, endpoint: hub.endpoint, cacheDir, retries: 0 };
    await expect(fetchModel(options)).rejects.toMatchObject({ code: 'MODEL_FETCH_FAILED' });
    hub.ignoreNextRange(repoId, file);
    const result = await fetchModel(options);
    expect(requestsFor(repoId).some((r) => r.path.startsWith('/cdn/') && r.range !== undefined)).toBe(true);
    expect(readFileSync(path.join(result.modelDir, file)).equals(Buffer.from(onnxFiles[file]!))).toBe(true);
  });

  it('retries a broken transfer within the same fetch by resuming it', async () => {
    const repoId = 'tests/clip-cut-retry';
    const file = 'onnx/vision_model.onnx';
    hub.addRepo({ id: repoId, files: onnxFiles });
    hub.cutNextDownload(repoId, file, 10_000);
    const events: FetchProgressEvent[] = [];
    const result = await fetchFrom(repoId, { onProgress: (e) => events.push(e) });
    const downloads = events.filter((e) => e.phase === 'download');
    expect(downloads.every((e, i) => i === 0 || e.bytesDone >= downloads[i - 1]!.bytesDone)).toBe(true);
    expect(downloads.at(-1)).toMatchObject({ bytesDone: downloads.at(-1)!.bytesTotal });
    expect(events.at(-1)).toMatchObject({ phase: 'done', modelDir: result.modelDir, fromCache: false });
    expect(requestsFor(repoId).some((r) => r.range?.startsWith('bytes=') && r.range !== 'bytes=0-')).toBe(true);
    expect(readFileSync(path.join(result.modelDir, file)).equals(Buffer.from(onnxFiles[file]!))).toBe(true);
  });

  it('refuses a file whose sha256 does not match the listing and leaves nothing that looks complete', async () => {
    const repoId = 'tests/clip-corrupt';
    const commit = hub.addRepo({ id: repoId, files: onnxFiles });
    hub.corrupt(repoId, 'onnx/vision_model.onnx');
    const cacheDir = newCache();
    const error = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir }).catch((e: unknown) => e);
    expect(isRsclipError(error, 'MODEL_FETCH_FAILED') && error.message).toMatch(/onnx\/vision_model\.onnx failed verification: expected sha256/);
    const repoDir = path.join(cacheDir, 'models', 'tests--clip-corrupt');
    const left = await filesIn(repoDir);
    expect(left.filter((f) => f.includes('vision_model'))).toEqual([]);
    expect(existsSync(path.join(repoDir, commit))).toBe(false);
    expect(existsSync(path.join(repoDir, 'refs', 'main'))).toBe(false);
  });

  it('refuses a commit that another live process is fetching, and takes over a lock left by a dead one', async () => {
    const repoId = 'tests/clip-locked';
    const commit = hub.addRepo({ id: repoId, files: onnxFiles });
    const cacheDir = newCache();
    const lock = path.join(cacheDir, 'models', 'tests--clip-locked', 'downloads', `${commit}.lock`);
    await mkdir(path.dirname(lock), { recursive: true });
    await writeFile(lock, String(process.ppid));
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir })).rejects.toMatchObject({
      code: 'MODEL_FETCH_FAILED',
      message: expect.stringContaining(`pid ${process.ppid}`),
    });
    const exited = spawnSync(process.execPath, ['-e', '']);
    await writeFile(lock, String(exited.pid));
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir })).resolves.toMatchObject({ fromCache: false });
    expect(existsSync(lock)).toBe(false);
  });

  it('fails with a one-line OFFLINE error when the endpoint cannot be reached', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const error = await fetchFrom('tests/clip-onnx', { endpoint }).catch((e: unknown) => e);
    expect(isRsclipError(error, 'OFFLINE')).toBe(true);
    const line = (error as RsclipError).toOneLine();
    expect(line).not.toContain('\n');
    expect(line).toContain(endpoint);
    expect(line).toContain('--model');
  });

  it('fetches a PyTorch-only repository (the clip-rsicd-v2 shape) and exports it to ONNX, int8 included', async () => {
    const repoId = 'tests/clip-torch';
    hub.addRepo({ id: repoId, files: torchFiles });
    const cacheDir = newCache();
    const result = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, variant: 'int8' });
    expect(result).toMatchObject({ fromCache: false, exported: true });
    const dir = openModelDirectory(result.modelDir, { variant: 'int8' });
    expect(dir.availableVariants).toEqual(['fp32', 'int8']);
    expect(dir.tokenizer.kind).toBe('bpe');
    expect(requestsFor(repoId).some((r) => r.path.includes('flax_model.msgpack'))).toBe(false);
    expect(existsSync(path.join(cacheDir, 'models', 'tests--clip-torch', 'downloads', result.commit))).toBe(false);
  });

  it('repairs a cached model that lost a file, and with --refresh one whose ONNX file was cut short, downloading only those', async () => {
    const repoId = 'tests/clip-repair';
    hub.addRepo({ id: repoId, files: onnxFiles });
    const cacheDir = newCache();
    const first = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir });
    const downloadsOf = (file: string, since: number): number => hub.requests.slice(since).filter((r) => r.path.includes(repoId) && r.path.endsWith(`/${file}`)).length;

    await rm(path.join(first.modelDir, 'vocab.json'));
    let mark = hub.requests.length;
    const repaired = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir });
    expect(repaired).toMatchObject({ fromCache: false, modelDir: first.modelDir });
    expect(readFileSync(path.join(first.modelDir, 'vocab.json')).equals(Buffer.from(onnxFiles['vocab.json']!))).toBe(true);
    expect(downloadsOf('vocab.json', mark)).toBe(1);
    expect(downloadsOf('onnx/text_model.onnx', mark)).toBe(0);

    const vision = path.join(first.modelDir, 'onnx', 'vision_model.onnx');
    writeFileSync(vision, Buffer.from(onnxFiles['onnx/vision_model.onnx']!).subarray(0, 1000));
    mark = hub.requests.length;
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, refresh: true })).resolves.toMatchObject({ fromCache: false });
    expect(readFileSync(vision).equals(Buffer.from(onnxFiles['onnx/vision_model.onnx']!))).toBe(true);
    expect(downloadsOf('onnx/vision_model.onnx', mark)).toBe(1);
    expect(downloadsOf('onnx/text_model.onnx', mark)).toBe(0);
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, refresh: true })).resolves.toMatchObject({ fromCache: true });
  });

  it('repairs by the entry\'s manifest: an ONNX file cut short at the next fetch, one overwritten at its size with --refresh, an exported one too', async () => {
    const repoId = 'tests/clip-manifest';
    hub.addRepo({ id: repoId, files: onnxFiles });
    const cacheDir = newCache();
    const first = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir });
    const vision = path.join(first.modelDir, 'onnx', 'vision_model.onnx');
    const original = readFileSync(vision);
    // cut short: its size differs from the manifest's, so a plain fetch downloads it again
    writeFileSync(vision, original.subarray(0, 1000));
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir })).resolves.toMatchObject({ fromCache: false });
    expect(readFileSync(vision).equals(original)).toBe(true);
    // the same size, other bytes: a plain fetch cannot tell without reading them all; --refresh does
    const flipped = Buffer.from(original);
    flipped[flipped.length - 10] = flipped[flipped.length - 10]! ^ 0xff;
    writeFileSync(vision, flipped);
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir })).resolves.toMatchObject({ fromCache: true });
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, refresh: true })).resolves.toMatchObject({ fromCache: false });
    expect(readFileSync(vision).equals(original)).toBe(true);

    // an exported model, whose files the Hub does not list: exported again
    const checkpointRepo = 'tests/clip-manifest-export';
    hub.addRepo({ id: checkpointRepo, files: torchFiles });
    const exported = await fetchModel({ repoId: checkpointRepo, endpoint: hub.endpoint, cacheDir });
    const exportedText = path.join(exported.modelDir, 'onnx', 'text_model.onnx');
    const exportedBytes = readFileSync(exportedText);
    writeFileSync(exportedText, exportedBytes.subarray(0, 2000));
    await expect(fetchModel({ repoId: checkpointRepo, endpoint: hub.endpoint, cacheDir })).resolves.toMatchObject({ fromCache: false, exported: true });
    expect(readFileSync(exportedText).equals(exportedBytes)).toBe(true);
  });

  it('gives fp32 for int8 where the caller accepts it and the repository cannot give int8, even offline once cached', async () => {
    const repoId = 'tests/clip-fp32-for-up';
    hub.addRepo({ id: repoId, files: withoutWeights(onnxFiles) });
    const cacheDir = newCache();
    const result = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, variant: 'int8', acceptFp32: true });
    expect(openModelDirectory(result.modelDir).availableVariants).toEqual(['fp32']);
    const offline = await fetchModel({ repoId, endpoint: `http://127.0.0.1:${await freePort()}`, cacheDir, variant: 'int8', acceptFp32: true });
    expect(offline).toMatchObject({ fromCache: true, modelDir: result.modelDir });
  });

  it('exports int8 from the weights of a repository whose ONNX files are fp32 only', async () => {
    const repoId = 'tests/clip-onnx-and-torch';
    hub.addRepo({ id: repoId, files: { ...withoutWeights(onnxFiles), 'pytorch_model.bin': torchFiles['pytorch_model.bin']! } });
    const result = await fetchFrom(repoId, { variant: 'int8' });
    expect(result).toMatchObject({ fromCache: false, exported: true });
    expect(openModelDirectory(result.modelDir, { variant: 'int8' }).availableVariants).toEqual(['fp32', 'int8']);
  });

  it('stops the export at a safe point when cancelled during it, keeping the downloads and nothing exported', async () => {
    const repoId = 'tests/clip-cancel-export';
    hub.addRepo({ id: repoId, files: torchFiles });
    const cacheDir = newCache();
    const controller = new AbortController();
    const onProgress = (event: FetchProgressEvent): void => {
      if (event.phase === 'export') controller.abort();
    };
    const error = await fetchModel({ repoId, endpoint: hub.endpoint, cacheDir, signal: controller.signal, onProgress }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INTERRUPTED', message: expect.stringContaining('ONNX export') });
    const repoDir = path.join(cacheDir, 'models', 'tests--clip-cancel-export');
    const entries = await readdir(repoDir);
    expect(entries.filter((name) => /^[0-9a-f]{40}/.test(name))).toEqual([]);
    expect(entries).not.toContain('refs');
    // the rerun exports from the downloads kept, receiving nothing again
    await expect(fetchModel({ repoId, endpoint: hub.endpoint, cacheDir })).resolves.toMatchObject({ exported: true, downloadedBytes: 0 });
  });
});
