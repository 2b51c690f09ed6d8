/**
 * onnxruntime 1.30 records telemetry about the user's models and machine under the cache folder
 * and sends it on when it can; rsclip turns that off unless the user sets ORT_DISABLE_TELEMETRY.
 * The sessions open in the process's main thread (`model info`) and in model threads (`embed`).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
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
