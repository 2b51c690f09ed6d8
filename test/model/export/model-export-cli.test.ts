import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../../src/errors.js';
import { exportCheckpointDirectory } from '../../../src/model/export/export-clip.js';
import { openModelDirectory } from '../../../src/model/model-dir.js';
import { runCli } from '../../fixtures/cli.js';

describe('rsclip model random / model export (CLI)', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'rsclip-export-cli-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes a random model, exports it again with --quantize int8, and refuses an existing --out in one line', async () => {
    const random = path.join(work, 'random');
    const r1 = await runCli(['model', 'random', '--out', random, '--size', 'tiny', '--seed', '5']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout.trim()).toBe(random);

    const exported = path.join(work, 'exported');
    const r2 = await runCli(['model', 'export', random, '--out', exported, '--quantize', 'int8', '--json']);
    expect(r2.code, r2.stderr).toBe(0);
    const result = JSON.parse(r2.stdout) as { outDir: string; variants: string[]; files: string[] };
    expect(result.outDir).toBe(exported);
    expect(result.variants).toEqual(['fp32', 'int8']);
    expect(result.files).toEqual(expect.arrayContaining(['onnx/text_model_quantized.onnx', 'vocab.json', 'merges.txt', 'rsclip.json']));
    expect(openModelDirectory(exported, { variant: 'int8' }).availableVariants).toEqual(['fp32', 'int8']);
    expect(r2.stderr).toMatch(/wrote onnx\/vision_model\.onnx/);

    const r3 = await runCli(['model', 'export', random, '--out', exported]);
    expect(r3.code).toBe(1);
    expect(r3.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^rsclip: output directory .* already exists \(choose another --out or pass --force to replace it\)$/)]);

    // --force never replaces the checkpoint being read, nor a folder that holds it
    for (const [out, verb] of [[random, 'is'], [work, 'holds']] as const) {
      const r4 = await runCli(['model', 'export', random, '--out', out, '--force']);
      expect(r4.code).toBe(1);
      expect(r4.stderr.trim()).toBe(`rsclip: the output directory ${out} ${verb} the checkpoint ${random}: replacing it would delete the weights being exported (choose an --out outside the checkpoint folder)`);
    }
    expect(existsSync(path.join(random, 'model.safetensors'))).toBe(true);
  });

  it('removes the staging folders of exports killed before (their process gone), keeps a live one\'s, and leaves none of its own when a step is cancelled', async () => {
    const random = path.join(work, 'random-for-staging');
    expect((await runCli(['model', 'random', '--out', random, '--size', 'tiny', '--seed', '6'])).code).toBe(0);
    const out = path.join(work, 'staged');
    // pid 4194304 is above Linux's pid_max: no process has it
    const dead = `${out}.partial-4194304`;
    const live = `${out}.partial-${process.pid}`;
    mkdirSync(dead);
    mkdirSync(live);
    const exported = await runCli(['model', 'export', random, '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(existsSync(dead)).toBe(false);
    // a live process's staging folder (this test's) is left alone
    expect(existsSync(live)).toBe(true);
    rmSync(live, { recursive: true });

    const again = path.join(work, 'cancelled');
    let steps = 0;
    const cancelled = exportCheckpointDirectory(random, again, {
      onProgress: () => {
        // the third step is inside the staging folder's life
        if (++steps === 3) throw new RsclipError('INTERRUPTED', 'cancelled');
      },
    });
    await expect(cancelled).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(readdirSync(work).filter((name) => name.startsWith('cancelled'))).toEqual([]);
  });

  it('names the missing file when the checkpoint directory has no weights', async () => {
    const r = await runCli(['model', 'export', work, '--out', path.join(work, 'none')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^rsclip: .*has no config\.json/);
    expect(existsSync(path.join(work, 'none'))).toBe(false);
  });

  it('says a checkpoint directory that does not exist does not exist', async () => {
    const missing = path.join(work, 'no-such-checkpoint');
    const result = await runCli(['model', 'export', missing, '--out', path.join(work, 'never')]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(new RegExp(`^rsclip: checkpoint directory ${missing} does not exist \\(`));
  });

  it('rejects an unknown --quantize mode and --size', async () => {
    const r = await runCli(['model', 'export', work, '--out', path.join(work, 'x'), '--quantize', 'int4']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected int8, got "int4"/);
    const s = await runCli(['model', 'random', '--out', path.join(work, 'y'), '--size', 'huge']);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/expected one of tiny, small, vit-b-32, got "huge"/);
  });
});
