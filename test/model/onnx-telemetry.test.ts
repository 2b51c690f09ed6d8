/**
 * onnxruntime 1.30 records telemetry about the user's models and machine under the cache folder
 * and sends it on when it can; rsclip turns that off unless the user sets ORT_DISABLE_TELEMETRY.
 * The sessions open in the process's main thread (`model info`) and in model threads (`embed`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

let root: string;
let modelDir: string;
let image: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-onnx-telemetry-'));
  modelDir = await tinyModelDir();
  image = path.join(root, 'scene.png');
  writeFileSync(image, makePng(3, 40, 40));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * onnxruntime records nothing where it sees a CI service (these variables, read from its library's
 * strings and, for CI, tried): the commands run without them, as on a user's machine.
 */
const CI_VARIABLES = ['CI', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'TRAVIS', 'JENKINS_URL', 'CODEBUILD_BUILD_ID', 'BUILDKITE', 'TEAMCITY_VERSION', 'APPVEYOR', 'BITBUCKET_BUILD_NUMBER'];

/** Runs the commands with their own home and cache folders; says whether onnxruntime's telemetry store appeared there. */
async function telemetryStoreAfter(name: string, choice: string | undefined): Promise<boolean> {
  const home = path.join(root, name);
  const notInCi = Object.fromEntries(CI_VARIABLES.map((variable) => [variable, undefined]));
  const env = { ...notInCi, HOME: home, XDG_CACHE_HOME: path.join(home, 'cache'), ORT_DISABLE_TELEMETRY: choice };
  for (const args of [['model', 'info', modelDir], ['embed', '--model', modelDir, '--threads', '1', '-t', 'a river', '-i', image]]) {
    const result = await runCli(args, { env });
    expect(result.code, result.stderr).toBe(0);
  }
  return existsSync(path.join(home, 'cache', 'Microsoft'));
}

describe("onnxruntime's telemetry", () => {
  it('is off unless the user chose: nothing is written to the telemetry store', async () => {
    expect(await telemetryStoreAfter('unset', undefined)).toBe(false);
  });

  it('stays on when the user asks for it (ORT_DISABLE_TELEMETRY=0), which shows the check above can see it', async () => {
    expect(await telemetryStoreAfter('chosen', '0')).toBe(true);
  });
});

/**
 * Changing the environment while a native thread reads it can crash the process (glibc's getenv
 * takes no lock; libvips reads it in every decode), as `eval zero-shot` did about one run in 500
 * when the first model session set the variable beside a decode. So the library sets it as it
 * loads, and nothing it does afterwards changes the environment: embedding images and texts runs
 * here with every later change recorded.
 */
const NO_LATER_CHANGE = `
const rsclip = await import(process.env.RSCLIP_ENTRY);
const atLoad = process.env.ORT_DISABLE_TELEMETRY;
const changes = [];
const environment = process.env;
process.env = new Proxy(environment, {
  set(target, name, value) { changes.push(String(name)); target[name] = value; return true; },
  deleteProperty(target, name) { changes.push(String(name)); delete target[name]; return true; },
});
const encoder = await rsclip.openClip(process.env.MODEL_DIR, { threads: 1 });
await encoder.embedImages([process.env.IMAGE]);
await encoder.embedTexts(['a river']);
await encoder.close();
process.stdout.write(JSON.stringify({ atLoad, changes }));
`;

describe('the environment', () => {
  it('is set as the library loads, and not changed while it decodes and opens sessions', async () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', NO_LATER_CHANGE], {
      encoding: 'utf8',
      env: { ...process.env, ORT_DISABLE_TELEMETRY: undefined, RSCLIP_ENTRY: pathToFileURL(path.join(REPO_ROOT, 'dist/index.js')).href, MODEL_DIR: modelDir, IMAGE: image },
    });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ atLoad: '1', changes: [] });
  });
});
