/**
 * `rsclip model info` (describeModel) parses the tokenizer files as opening the model does: a
 * copy of the tiny test model whose tokenizer.json or vocab.json is corrupt is refused, naming
 * the file, instead of being described as if it would load.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/model/describe.js';
import { CLIP_SPLIT_PATTERN } from '../../src/model/tokenizer-files.js';
import { runCli } from '../fixtures/cli.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { tinyModelDir } from '../fixtures/model.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-model-info-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** tokenizer.json as `tokenizers` serialises CLIP's, over the model's own vocab.json and merges.txt. */
function tokenizerJsonOf(dir: string): { model: Record<string, unknown> } & Record<string, unknown> {
  const vocab = JSON.parse(readFileSync(path.join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
  const merges = readFileSync(path.join(dir, 'merges.txt'), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#version'));
  return {
    added_tokens: ['<|startoftext|>', '<|endoftext|>'].map((content) => ({ id: vocab[content], content, special: true })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    model: { type: 'BPE', unk_token: '<|endoftext|>', end_of_word_suffix: '</w>', vocab, merges },
  };
}

describe('model info checks the tokenizer files', () => {
  let source: string;

  beforeAll(async () => {
    source = await tinyModelDir();
  }, 300_000);

  /** A copy of the tiny model under `name`, changed by `change`. */
  function copyOfModel(name: string, change: (dir: string) => void = () => {}): string {
    const dir = path.join(work, name);
    cpSync(source, dir, { recursive: true });
    change(dir);
    return dir;
  }

  const withTokenizerJson = (dir: string, json: unknown): void => writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));

  it('describes an intact copy, with vocab.json + merges.txt or an equivalent tokenizer.json', async () => {
    expect((await describeModel(copyOfModel('intact'))).tokenizer).toBe('vocab.json + merges.txt');
    const json = copyOfModel('tokenizer-json', (dir) => withTokenizerJson(dir, tokenizerJsonOf(dir)));
    expect((await describeModel(json)).tokenizer).toBe('tokenizer.json');
  });

  it('refuses a truncated tokenizer.json, naming it', async () => {
    const dir = copyOfModel('truncated', (d) => {
      const text = JSON.stringify(tokenizerJsonOf(d));
      writeFileSync(path.join(d, 'tokenizer.json'), text.slice(0, text.length / 2));
    });
    await expectRsclipError(describeModel(dir), 'MODEL_INVALID', /tokenizer\.json: is not valid JSON/);
    const cli = await runCli(['model', 'info', dir]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toContain(`rsclip: ${path.join(dir, 'tokenizer.json')}: is not valid JSON`);
  });

  it('refuses a tokenizer.json without the BPE vocabulary and merges, naming it and them', async () => {
    const dir = copyOfModel('no-vocab', (d) => {
      const json = tokenizerJsonOf(d);
      delete json.model.vocab;
      delete json.model.merges;
      withTokenizerJson(d, json);
    });
    await expectRsclipError(describeModel(dir), 'MODEL_INVALID', /tokenizer\.json: is malformed: .*model\.vocab.*model\.merges/);
  });

  it('refuses a truncated vocab.json, naming it', async () => {
    const dir = copyOfModel('truncated-vocab', (d) => writeFileSync(path.join(d, 'vocab.json'), readFileSync(path.join(d, 'vocab.json'), 'utf8').slice(0, 100)));
    await expectRsclipError(describeModel(dir), 'MODEL_INVALID', /vocab\.json: is not valid JSON/);
  });
});
