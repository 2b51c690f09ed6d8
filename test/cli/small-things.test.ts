/**
 * The small things of issue 10, item 24, as a user meets them on the command line: `tokenize`
 * prints one line, `embed` takes texts and images together, `eval ann --help` shows its default
 * ef list as typed, and `model export` and `model info` count bytes in the same unit; a reader that
 * stops early stops a command quietly.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';
import { buildTinyHubRepos } from '../model/hub/hub-repos.js';

let root: string;
let modelDir: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-small-things-'));
  modelDir = await tinyModelDir();
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('small things', () => {
  it('`model tokenize` prints the ids of each text on one line, as JSON', async () => {
    const result = await runCli(['model', 'tokenize', '--model', modelDir, 'a river', 'a stadium next to a river']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const ids = JSON.parse(lines[0]!) as number[][];
    expect(ids).toHaveLength(2);
    expect(ids.every((row) => row.every((id) => Number.isInteger(id)))).toBe(true);
  });

  it('a reader that closes the pipe early (`rsclip ... | head -1`) stops the command quietly', async () => {
    for (const args of [['--help'], ['model', 'tokenize', '--model', modelDir, ...Array.from({ length: 2000 }, (_, i) => `scene ${i}`)]]) {
      const child = spawnCli(args);
      child.stdout!.destroy();
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise((resolve) => child.on('close', resolve));
      expect(stderr, args[0]).toBe('');
      expect(code, args[0]).toBe(0);
    }
  });

  it.skipIf(!existsSync('/dev/full'))('output to a full disk (`> /dev/full`) ends with one line, not a stack trace', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const child = spawnCli(['model', 'tokenize', '--model', modelDir, 'a river'], { stdio: ['ignore', full, 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise((resolve) => child.on('close', resolve));
      expect(code).toBe(1);
      expect(stderr).toMatch(/^rsclip: cannot write the output: no space left on the device.*\[ENOSPC\]\n$/);
    } finally {
      closeSync(full);
    }
  });

  it('`embed` takes --text and --image together: texts first, then images, each marked with its kind', async () => {
    const image = path.join(root, 'scene.png');
    writeFileSync(image, makePng(9, 40, 40));
    const both = await runCli(['embed', '--model', modelDir, '--threads', '1', '-t', 'a river', '-i', image, '-t', 'a forest', '--json']);
    expect(both.code, both.stderr).toBe(0);
    const rows = JSON.parse(both.stdout) as { kind: string; input: string; vector: number[] }[];
    expect(rows.map((r) => [r.kind, r.input])).toEqual([['text', 'a river'], ['text', 'a forest'], ['image', image]]);
    const alone = JSON.parse((await runCli(['embed', '--model', modelDir, '--threads', '1', '-i', image, '--json'])).stdout) as { vector: number[] }[];
    expect(rows[2]!.vector).toEqual(alone[0]!.vector);
    expect((await runCli(['embed', '--help'])).stdout.replace(/\s+/g, ' ')).toMatch(/may be combined with --image/);
  });

  it('`embed` takes the pixel limit its refusal names', async () => {
    const image = path.join(root, 'wide.png');
    writeFileSync(image, makePng(3, 120, 60));
    const refused = await runCli(['embed', '--model', modelDir, '--threads', '1', '-i', image, '--max-input-pixels', '5000']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`image ${image} has 120x60 = 7200 pixels, more than the limit of 5000 (downscale the image or raise the pixel limit (--max-input-pixels))`);
    const raised = await runCli(['embed', '--model', modelDir, '--threads', '1', '-i', image, '--max-input-pixels', '7200', '--json']);
    expect(raised.code, raised.stderr).toBe(0);
    expect(JSON.parse(raised.stdout)).toHaveLength(1);
  });

  it('`search`, `errors` and `embed` print a tab or newline in a name escaped and a backslash doubled, one record per line; --json exact', async () => {
    const archive = path.join(root, 'odd-names');
    mkdirSync(archive);
    writeFileSync(path.join(archive, 'river\nbank.png'), makePng(4, 40, 40));
    // the two characters \ and n: told apart from the line break above
    writeFileSync(path.join(archive, 'river\\nbank.png'), makePng(6, 40, 40));
    writeFileSync(path.join(archive, 'cut\tshort.png'), makePng(5, 40, 40).subarray(0, 60));
    const index = path.join(root, 'odd-index');
    expect((await runCli(['index', archive, '--index', index, '--model', modelDir, '--threads', '1'])).code).toBe(0);
    const found = await runCli(['search', 'a river', '--index', index, '--model', modelDir]);
    expect(found.stdout.trimEnd().split('\n').map((line) => line.split('\t')[2]!.replace(/.*\/odd-names\//, '')).sort()).toEqual(['river\\\\nbank.png', 'river\\nbank.png']);
    const json = JSON.parse((await runCli(['search', 'a river', '--index', index, '--model', modelDir, '--json'])).stdout) as { hits: { path: string }[] };
    expect(json.hits.map((h) => h.path).sort()).toEqual(['river\nbank.png', 'river\\nbank.png']);
    const failed = (await runCli(['errors', '--index', index])).stdout.trimEnd().split('\n');
    expect(failed).toEqual([expect.stringMatching(/^\/.*\/odd-names\/cut\\tshort\.png\tcannot read /)]);
    expect(failed[0]!.split('\t')).toHaveLength(2);
    const embedded = await runCli(['embed', '--model', modelDir, '--threads', '1', '-t', 'two\nlines']);
    expect(embedded.stdout.trimEnd().split('\n')).toEqual([expect.stringMatching(/^two\\nlines\t/)]);
  });

  it('an eval refuses an --out it cannot write before it runs, not after', async () => {
    const file = path.join(root, 'a-file');
    writeFileSync(file, 'x');
    for (const args of [['eval', 'retrieval', '--model', modelDir, '--images', path.join(root, 'no-images'), '--captions', path.join(root, 'none.jsonl')], ['eval', 'ann', '--index', path.join(root, 'no-index')]]) {
      const result = await runCli([...args, '--out', file]);
      expect(result.code, args[1]).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^rsclip: cannot create the report folder ${file}: EEXIST`));
    }
  });

  it('`embed`, `model tokenize` and the evals take the model and the index from the config file, and say when there is none', async () => {
    const config = path.join(root, 'with-model.json');
    writeFileSync(config, JSON.stringify({ model: modelDir, index: path.join(root, 'config-index') }));
    const env = { RSCLIP_CONFIG: config };
    const embedded = await runCli(['embed', '-t', 'a river', '--threads', '1', '--json'], { env });
    expect(embedded.code, embedded.stderr).toBe(0);
    expect(JSON.parse(embedded.stdout)).toHaveLength(1);
    const tokens = await runCli(['model', 'tokenize', 'a river'], { env });
    expect(tokens.code, tokens.stderr).toBe(0);
    expect(JSON.parse(tokens.stdout)).toEqual([expect.arrayContaining([expect.any(Number)])]);
    // the config's index is the one looked for
    expect((await runCli(['eval', 'ann', '--queries', '2'], { env })).stderr).toContain(`no index at ${path.join(root, 'config-index')}`);
    const empty = path.join(root, 'empty.json');
    writeFileSync(empty, '{}');
    for (const args of [['embed', '-t', 'x'], ['model', 'tokenize', 'x'], ['eval', 'retrieval', '--images', root, '--captions', config]]) {
      const refused = await runCli(args, { env: { RSCLIP_CONFIG: empty, RSCLIP_MODEL: '' } });
      expect(refused.code, args.join(' ')).toBe(1);
      expect(refused.stderr.trim()).toBe('rsclip: no model given: expected --model <dir> or "model" in rsclip.config.json');
    }
  });

  it('`eval ann --help` shows the default ef list as it would be typed', async () => {
    const help = (await runCli(['eval', 'ann', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/--ef <list> .*\(default: 10,20,50,100,200\)/);
    expect(help).not.toContain('[10,20');
  });

  it('`search --ef` past the breadth the library and the API take is an option error (exit 2), not cut down silently', async () => {
    const refused = await runCli(['search', 'a river', '--ef', '5000']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('expected an integer from 1 to 4,096, got "5000"');
  });

  it('`model export` and `model info` both count bytes in MiB', async () => {
    const repos = await buildTinyHubRepos(path.join(root, 'repos'));
    const checkpoint = path.join(root, 'checkpoint');
    mkdirSync(checkpoint);
    for (const [name, bytes] of Object.entries(repos.torchFiles)) writeFileSync(path.join(checkpoint, name), bytes);
    const out = path.join(root, 'exported');
    const exported = await runCli(['model', 'export', checkpoint, '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/wrote onnx\/vision_model\.onnx \(\d+\.\d MiB\)/);
    const info = await runCli(['model', 'info', out]);
    expect(info.stdout).toMatch(/onnx\/vision_model\.onnx\s+\d+\.\d (MiB|KiB)/);
    expect(`${exported.stderr}${info.stdout}`).not.toMatch(/\d MB\b/);
  });
});
