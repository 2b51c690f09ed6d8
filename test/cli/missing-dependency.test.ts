/**
 * A package that cannot load (an incomplete install, sharp's native binary built for another
 * platform) is the install's fault: it stops an indexing run with one line that says so, and no
 * file is recorded as failed, and a queue worker stops before it takes a job (as one whose model
 * is damaged does). Commands that do not need the package still work, and the server answers
 * what needs it with the package's name and what to do.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import { lazyPackage } from '../../src/lazy-package.js';
import { openModelDirectory } from '../../src/model/model-dir.js';
import { followServe, runCli, spawnCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

describe('lazyPackage', () => {
  it('loads a package, and names a package that cannot load', () => {
    const loadPath = lazyPackage<typeof path>('node:path');
    expect(loadPath()).toBe(loadPath());
    expect(loadPath().join('a', 'b')).toBe('a/b');
    const missing = lazyPackage('rsclip-test-no-such-package');
    let thrown: unknown;
    try {
      missing();
    } catch (error) {
      thrown = error;
    }
    expect(isRsclipError(thrown, 'DEPENDENCY_MISSING')).toBe(true);
    expect((thrown as Error).message).toMatch(/^cannot load the package rsclip-test-no-such-package: Cannot find module/);
  });
});

describe('an install whose sharp or onnxruntime cannot load', () => {
  let dir: string;
  let model: string;
  let withoutSharp: NodeJS.ProcessEnv;
  let withoutOnnxruntime: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rsclip-missing-dep-'));
    model = await tinyModelDir();
    mkdirSync(path.join(dir, 'images'));
    for (const seed of [1, 2, 3]) writeFileSync(path.join(dir, 'images', `${seed}.png`), makePng(seed, 48, 40));
    withoutSharp = hiding('sharp');
    withoutOnnxruntime = hiding('onnxruntime-node');
  });

  /** An environment in which every thread of the process (decoders included) is refused the package. */
  function hiding(name: string): NodeJS.ProcessEnv {
    const preload = path.join(dir, `hide-${name}.cjs`);
    writeFileSync(
      preload,
      `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === '${name}') throw Object.assign(new Error("Cannot find module '${name}' (hidden by the test)"), { code: 'MODULE_NOT_FOUND' });
  return resolve.call(this, request, ...rest);
};
`,
    );
    return { NODE_OPTIONS: `--require ${preload}` };
  }

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops indexing with one line and records no file as failed; a text search still answers; once repaired, every file is indexed', async () => {
    const index = path.join(dir, 'index');
    const failed = await runCli(['index', path.join(dir, 'images'), '--index', index, '--model', model], { env: withoutSharp });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^rsclip: cannot load the package sharp: Cannot find module 'sharp' \(hidden by the test\) \(reinstall rsclip's dependencies/m);
    expect(failed.stderr).not.toMatch(/internal error|\n\s+at /);

    const errors = await runCli(['errors', '--index', index]);
    expect(errors.stdout + errors.stderr).toMatch(/no file failed/);

    const repaired = await runCli(['index', path.join(dir, 'images'), '--index', index, '--model', model, '--json']);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(JSON.parse(repaired.stdout)).toMatchObject({ added: 3, errors: 0 });

    const text = await runCli(['search', 'a red square', '--index', index, '--json', '-k', '3'], { env: withoutSharp });
    expect(text.code, text.stderr).toBe(0);
    expect(JSON.parse(text.stdout).hits).toHaveLength(3);
  });

  it('stops a queue worker before it connects or takes a job (sharp or onnxruntime missing)', async () => {
    // nothing listens on port 9: the worker must stop on its own check, never reach Redis
    for (const [name, env] of [['sharp', withoutSharp], ['onnxruntime-node', withoutOnnxruntime]] as const) {
      const worker = await runCli(['worker', '--queue', 'redis://127.0.0.1:9/0', '--model', model, '--threads', '1'], { env });
      expect(worker.code).toBe(1);
      expect(worker.stderr).toMatch(new RegExp(`^rsclip: cannot load the package ${name}: Cannot find module '${name}' \\(hidden by the test\\)`, 'm'));
      expect(worker.stderr).not.toMatch(/Redis/);
    }
  });

  it('stops a queue worker whose model is damaged before it takes a job, too', async () => {
    const damaged = path.join(dir, 'damaged-model');
    cpSync(model, damaged, { recursive: true });
    writeFileSync(openModelDirectory(damaged, { variant: 'fp32' }).onnx.vision, 'not an onnx graph\n');
    const worker = await runCli(['worker', '--queue', 'redis://127.0.0.1:9/0', '--model', damaged, '--variant', 'fp32', '--threads', '1']);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toMatch(/^rsclip: cannot load ONNX model .*vision_model\.onnx/m);
    expect(worker.stderr).not.toMatch(/Redis/);
  });

  it('leaves serve answering text queries, and answers an image query with what to reinstall', async () => {
    const index = path.join(dir, 'served-index');
    const made = await runCli(['index', path.join(dir, 'images'), '--index', index, '--model', model]);
    expect(made.code, made.stderr).toBe(0);
    const child = spawnCli(['serve', '--index', index, '--model', model, '--port', '0', '--threads', '1'], { env: withoutSharp });
    try {
      const url = await followServe(child).url;
      const text = await fetch(`${url}api/search?q=a%20red%20square&k=2`);
      expect(text.status).toBe(200);
      const image = await fetch(`${url}api/search/image?k=2`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(makePng(9, 48, 40)) });
      expect(image.status).toBe(500);
      expect(await image.json()).toEqual({ error: { code: 'DEPENDENCY_MISSING', message: "cannot load the package sharp: Cannot find module 'sharp' (hidden by the test)", hint: expect.stringMatching(/^reinstall rsclip's dependencies/) } });
    } finally {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
