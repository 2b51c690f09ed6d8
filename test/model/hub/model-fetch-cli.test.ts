import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelDirectory } from '../../../src/model/model-dir.js';
import { runCli } from '../../fixtures/cli.js';
import { startHubServer, type HubServer } from '../../fixtures/hub-server.js';
import { freePort } from '../../fixtures/local-server.js';
import { buildTinyHubRepos } from './hub-repos.js';

describe('rsclip model fetch (CLI, local Hub)', () => {
  let hub: HubServer;
  let work: string;
  let onnxFiles: Record<string, Uint8Array>;
  let torchFiles: Record<string, Uint8Array>;
  const env = (cache: string, endpoint = hub.endpoint): NodeJS.ProcessEnv => ({ HF_ENDPOINT: endpoint, RSCLIP_CACHE_DIR: cache, HF_TOKEN: '' });

  beforeAll(async () => {
    hub = await startHubServer();
    work = await mkdtemp(path.join(tmpdir(), 'rsclip-fetch-cli-'));
    ({ onnxFiles, torchFiles } = await buildTinyHubRepos(work));
  });
  afterAll(async () => {
    await hub.close();
    await rm(work, { recursive: true, force: true });
  });

  it('downloads, resumes a cut transfer, prints the model directory, then serves the rerun from the cache', async () => {
    const repoId = 'tests/cli-onnx';
    const commit = hub.addRepo({ id: repoId, files: onnxFiles });
    hub.cutNextDownload(repoId, 'onnx/text_model.onnx', 50_000);
    const cache = path.join(work, 'cache-a');
    const first = await runCli(['model', 'fetch', repoId], { env: env(cache) });
    expect(first.stderr).toContain('downloading onnx/text_model.onnx');
    expect(first.code).toBe(0);
    const printed = first.stdout.trim();
    expect(printed).toBe(path.join(cache, 'models', 'tests--cli-onnx', commit));
    expect(hub.requests.some((r) => r.path.includes(repoId) && r.range?.startsWith('bytes=') === true)).toBe(true);
    expect(readFileSync(path.join(printed, 'onnx/text_model.onnx')).equals(Buffer.from(onnxFiles['onnx/text_model.onnx']!))).toBe(true);
    openModelDirectory(printed);

    const before = hub.requests.length;
    const out = path.join(work, 'copy');
    const second = await runCli(['model', 'fetch', repoId, '--out', out, '--json'], { env: env(cache) });
    expect(second.code).toBe(0);
    expect(hub.requests.length).toBe(before);
    expect(JSON.parse(second.stdout)).toMatchObject({ modelDir: out, fromCache: true, downloadedBytes: 0, commit });
    openModelDirectory(out);

    // the config file's cacheDir is the cache, as for `rsclip up`
    const configured = path.join(work, 'configured');
    await mkdir(configured);
    await writeFile(path.join(configured, 'rsclip.config.json'), JSON.stringify({ cacheDir: 'cfgcache' }));
    const viaConfig = await runCli(['model', 'fetch', repoId], { env: { HF_ENDPOINT: hub.endpoint, HF_TOKEN: '', RSCLIP_CACHE_DIR: '' }, cwd: configured });
    expect(viaConfig.code, viaConfig.stderr).toBe(0);
    expect(viaConfig.stdout.trim()).toBe(path.join(configured, 'cfgcache', 'models', 'tests--cli-onnx', commit));
  });

  it('prints one OFFLINE line and exits 1 when the endpoint is unreachable', async () => {
    const port = await freePort();
    const result = await runCli(['model', 'fetch', 'tests/cli-onnx'], { env: env(path.join(work, 'cache-offline'), `http://127.0.0.1:${port}`) });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n').filter((l) => l.startsWith('rsclip:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rsclip: cannot reach the Hugging Face Hub at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\).*HF_ENDPOINT/);
    // `model fetch` has no --model option to offer
    expect(lines[0]).not.toContain('--model');
  });

  it('fetches and exports a PyTorch-only repository (clip-rsicd-v2 shape)', async () => {
    const repoId = 'tests/cli-torch';
    hub.addRepo({ id: repoId, files: torchFiles });
    const result = await runCli(['model', 'fetch', repoId, '--json'], { env: env(path.join(work, 'cache-torch')) });
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { modelDir: string; exported: boolean };
    expect(json.exported).toBe(true);
    expect(openModelDirectory(json.modelDir).tokenizer.kind).toBe('bpe');
  });
});
