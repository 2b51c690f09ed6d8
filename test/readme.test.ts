/**
 * The README's examples run: every fenced block marked ```sh runnable is executed, in order,
 * with bash in one working folder that holds what the README says it holds (`my-images/`,
 * `my-checkpoint/`, `predictions.tsv`, and for "Scenes and places" `scenes/mosaic.tif` and
 * `patch.png` cut from it), `rsclip` on the PATH and HF_ENDPOINT pointing at a
 * local Hub stand-in serving flax-community/clip-rsicd-v2 (tiny random weights).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ENTRY, REPO_ROOT } from './fixtures/cli.js';
import { startHubServer, type HubServer } from './fixtures/hub-server.js';
import { makePng } from './fixtures/images.js';
import { mosaicPatchPng, writeMosaic } from './fixtures/mosaic.js';
import { buildTinyHubRepos } from './model/hub/hub-repos.js';

function runnableBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh runnable\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

function runBash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const blocks = runnableBlocks(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8'));

describe('README examples', () => {
  let work: string;
  let hub: HubServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-readme-'));
    const repos = await buildTinyHubRepos(path.join(work, '.fixtures'));
    hub = await startHubServer();
    hub.addRepo({ id: 'flax-community/clip-rsicd-v2', files: repos.torchFiles });

    const cwd = path.join(work, 'cwd');
    mkdirSync(path.join(cwd, 'my-images'), { recursive: true });
    const scenes = ['stadium', 'river', 'parking', 'denseresidential', 'airport', 'forest'];
    for (const [i, scene] of scenes.entries()) {
      writeFileSync(path.join(cwd, 'my-images', `${scene}_1.png`), makePng(2 * i, 40, 40));
      writeFileSync(path.join(cwd, 'my-images', `${scene}_2.png`), makePng(2 * i + 1, 40, 40));
    }
    mkdirSync(path.join(cwd, 'my-checkpoint'));
    for (const [name, bytes] of Object.entries(repos.torchFiles)) {
      if (name !== 'flax_model.msgpack') writeFileSync(path.join(cwd, 'my-checkpoint', name), bytes);
    }
    const tenClasses = (best: string): string =>
      [best, ...scenes.filter((s) => s !== best), 'beach', 'bridge', 'church', 'desert'].map((c, i) => `${c}\t${(0.5 / (i + 1)).toFixed(5)}`).join('\t');
    mkdirSync(path.join(cwd, 'scenes'));
    writeMosaic(path.join(cwd, 'scenes', 'mosaic.tif'));
    writeFileSync(path.join(cwd, 'patch.png'), mosaicPatchPng({ x: 1008, y: 504, width: 224, height: 224 }));
    writeFileSync(path.join(cwd, 'predictions.tsv'), `stadium_1.jpg\tstadium\t${tenClasses('stadium')}\nriver_7.jpg\triver\t${tenClasses('forest')}\n`);

    const bin = path.join(work, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'rsclip'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_ENTRY}" "$@"\n`);
    chmodSync(path.join(bin, 'rsclip'), 0o755);
    env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      HF_ENDPOINT: hub.endpoint,
      RSCLIP_CACHE_DIR: path.join(work, 'cache'),
      RSCLIP_THREADS: '1',
      NO_COLOR: '1',
    };
  });
  afterAll(async () => {
    await hub?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('has runnable examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  it.each(blocks.map((block, i) => [i + 1, block] as const))('block %i runs', async (_n, block) => {
    const result = await runBash(block, path.join(work, 'cwd'), env);
    expect(result.status, `${block}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`).toBe(0);
    expect(result.stderr).not.toMatch(/internal error/);
  }, 300_000);
});
