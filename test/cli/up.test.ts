/**
 * `rsclip up` end to end against a local Hub-like server (HF_ENDPOINT) serving a
 * checkpoint-only repository shaped like flax-community/clip-rsicd-v2 (tiny random weights):
 * fetch + export + index + serve, a text query over HTTP; then a second `up` that downloads
 * nothing and embeds nothing; and the offline case.
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../fixtures/cli.js';
import { startHubServer, type HubServer } from '../fixtures/hub-server.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';
import { buildTinyHubRepos } from '../model/hub/hub-repos.js';

const REPO = 'flax-community/clip-rsicd-v2';

interface UpRun {
  url: string;
  stdout: string;
  stderr: string;
  child: ChildProcess;
}

/** Starts `rsclip up`, resolves once it prints the URL it serves. */
function startUp(args: string[], env: NodeJS.ProcessEnv): Promise<UpRun> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(['up', ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /serving (http:\/\/\S+)/.exec(stdout);
      if (match) resolve({ url: match[1]!, stdout, stderr, child });
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => reject(new Error(`rsclip up exited with ${code} before serving:\n${stdout}\n${stderr}`)));
  });
}

async function stop(run: UpRun): Promise<number | null> {
  const closed = new Promise<number | null>((resolve) => run.child.on('close', (code) => resolve(code)));
  run.child.kill('SIGTERM');
  return closed;
}

describe('rsclip up', () => {
  let work: string;
  let hub: HubServer;
  let env: NodeJS.ProcessEnv;
  const images = (): string => path.join(work, 'my-images');
  const index = (): string => path.join(work, 'index');

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-up-'));
    const repos = await buildTinyHubRepos(work);
    hub = await startHubServer();
    hub.addRepo({ id: REPO, files: repos.torchFiles });
    mkdirSync(images());
    for (let i = 0; i < 12; i++) writeFileSync(path.join(images(), `scene_${i}.png`), makePng(i, 48, 40));
    env = { HF_ENDPOINT: hub.endpoint, RSCLIP_CACHE_DIR: path.join(work, 'cache'), RSCLIP_THREADS: '1' };
  });
  afterAll(async () => {
    await hub?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('fetches, exports, indexes and serves; a second run downloads and embeds nothing', async () => {
    const args = [images(), '--index', index(), '--port', '0'];
    const first = await startUp(args, env);
    try {
      expect(hub.requests.some((r) => r.path.includes('pytorch_model.bin'))).toBe(true);
      const response = await fetch(`${first.url}api/search?q=${encodeURIComponent('a river')}&k=5`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { hits: { path: string; score: number }[] };
      expect(body.hits).toHaveLength(5);
      expect(body.hits[0]!.path).toMatch(/scene_\d+\.png$/);
    } finally {
      expect(await stop(first)).toBe(0);
    }
    expect(first.stdout).toMatch(/added 12/);

    const requestsBefore = hub.requests.length;
    const second = await startUp(args, env);
    try {
      expect(hub.requests.length).toBe(requestsBefore);
      const response = await fetch(`${second.url}api/search?q=stadium&k=3`);
      expect(response.status).toBe(200);
    } finally {
      await stop(second);
    }
    // the index's recorded model and variant are the default (one rule everywhere)
    expect(second.stderr).toMatch(/model ready \(the index's model, int8, as the index asks\)/);
    expect(second.stdout).toMatch(/embedded 0 /);
  });

  it('offline with no cached model: non-zero exit, one line, nothing half-written', async () => {
    const cache = path.join(work, 'empty-cache');
    const offlineIndex = path.join(work, 'offline-index');
    const result = await runCli(['up', images(), '--index', offlineIndex, '--port', '0'], {
      env: { HF_ENDPOINT: 'http://127.0.0.1:9', RSCLIP_CACHE_DIR: cache },
    });
    expect(result.code, result.stderr).not.toBe(0);
    const errorLines = result.stderr.split('\n').filter((l) => l.startsWith('rsclip:'));
    expect(errorLines, result.stderr).toHaveLength(1);
    expect(errorLines[0]).toMatch(/cannot reach the Hugging Face Hub/);
    expect(errorLines[0]).toMatch(/--model|HF_ENDPOINT/);
    expect(existsSync(offlineIndex)).toBe(false);
    const models = path.join(cache, 'models');
    const complete = existsSync(models) ? readdirSync(models, { recursive: true }).map(String).filter((p) => p.endsWith('.onnx')) : [];
    expect(complete).toEqual([]);
  });

  describe('on an index built with --fp32', () => {
    const fp32Index = (): string => path.join(work, 'fp32-repo-index');
    const cache = (): string => path.join(work, 'fp32-cache');
    const fp32Env = (): NodeJS.ProcessEnv => ({ ...env, RSCLIP_CACHE_DIR: cache() });
    beforeAll(async () => {
      await stop(await startUp([images(), '--model', REPO, '--fp32', '--index', fp32Index(), '--port', '0'], fp32Env()));
    });

    it('--model with the index\'s repo uses the index\'s variant: no int8 export, no refusal', async () => {
      const run = await startUp([images(), '--model', REPO, '--index', fp32Index(), '--port', '0'], fp32Env());
      await stop(run);
      expect(run.stderr).toMatch(/model ready \(cached, fp32, as the index asks\)/);
      expect(run.stdout).toMatch(/embedded 0 /);
    });

    it('a variant setting other than the index\'s is refused as a variant mismatch, with --fp32 as the hint', async () => {
      const result = await runCli(['up', images(), '--model', REPO, '--index', fp32Index(), '--port', '0'], { env: { ...fp32Env(), RSCLIP_VARIANT: 'int8' } });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/built with the fp32 variant of .*; `rsclip up` chose int8, as the "variant" setting/);
      expect(result.stderr).toMatch(/\(pass --fp32\)/);
    });

    it('stops at once, naming the repo, when the index\'s model folder is gone', async () => {
      renameSync(cache(), `${cache()}.moved`);
      try {
        const requestsBefore = hub.requests.length;
        const result = await runCli(['up', images(), '--index', fp32Index(), '--port', '0'], { env: fp32Env() });
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/which no longer exists/);
        expect(result.stderr).toMatch(new RegExp(`pass --model ${REPO} to fetch it again`));
        expect(result.stderr).not.toMatch(/== model/);
        expect(hub.requests.length).toBe(requestsBefore);
      } finally {
        renameSync(`${cache()}.moved`, cache());
      }
    });
  });

  describe('with --model DIR', () => {
    let fp32Only: string;
    beforeAll(async () => {
      fp32Only = path.join(work, 'fp32-only');
      cpSync(await tinyModelDir(), fp32Only, { recursive: true, filter: (source) => !source.endsWith('_quantized.onnx') });
    });

    it('uses fp32 when the model has no int8 files, and says so', async () => {
      const run = await startUp([images(), '--model', fp32Only, '--index', path.join(work, 'fp32-index'), '--port', '0'], env);
      try {
        expect((await fetch(`${run.url}api/search?q=river&k=2`)).status).toBe(200);
      } finally {
        await stop(run);
      }
      expect(run.stderr).toMatch(/model ready \(local directory, fp32: the model has no int8 files\)/);
    });

    it('uses int8 when the model has it', async () => {
      const run = await startUp([images(), '--model', await tinyModelDir(), '--index', path.join(work, 'int8-index'), '--port', '0'], env);
      await stop(run);
      expect(run.stderr).toMatch(/model ready \(local directory, int8\)/);
    });

    it('names the setting, not a flag up lacks, when the variant asked for is missing', async () => {
      const result = await runCli(['up', images(), '--model', fp32Only, '--index', path.join(work, 'no-index'), '--port', '0'], { env: { ...env, RSCLIP_VARIANT: 'int8' } });
      expect(result.code).toBe(1);
      const errorLines = result.stderr.split('\n').filter((l) => l.startsWith('rsclip:'));
      expect(errorLines, result.stderr).toHaveLength(1);
      expect(errorLines[0]).toMatch(/has no int8 files, which the "variant" setting \(config file or RSCLIP_VARIANT\) asks for \(present: fp32\)/);
      expect(result.stderr).not.toMatch(/--variant|internal error/);
    });
  });
});
