import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { loadTokenizer, type ClipTokenizer, type ModelDirectory } from '../../src/model/index.js';
import { describeShared, sharedPath } from '../fixtures/shared.js';
import { expectRsclipError } from '../fixtures/errors.js';

type TokenizerSource = ModelDirectory['tokenizer'];

/** GPT-2's bytes_to_unicode, written out as in the reference implementation. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = '!'.charCodeAt(0); b <= '~'.charCodeAt(0); b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i]!)));
  return table;
}

const BYTE_CHAR = bytesToUnicode();
const MERGES: [string, string][] = [
  ['l', 'o'],
  ['lo', 'w</w>'],
  ['e', 'r</w>'],
  ['lo', 'w'],
  ['low', 'er</w>'],
];

/** A tiny CLIP-style vocabulary: every byte symbol with and without `</w>`, five merges, then start and end. */
function tinyVocab(): Record<string, number> {
  const tokens = [...BYTE_CHAR, ...BYTE_CHAR.map((c) => `${c}</w>`), ...MERGES.map(([a, b]) => a + b), '<|startoftext|>', '<|endoftext|>'];
  return Object.fromEntries(tokens.map((t, i) => [t, i]));
}

const VOCAB = tinyVocab();
const START = VOCAB['<|startoftext|>']!;
const END = VOCAB['<|endoftext|>']!;

function id(token: string): number {
  const value = VOCAB[token];
  if (value === undefined) throw new Error(`test vocabulary has no ${token}`);
  return value;
}

/** Ids of the UTF-8 bytes of one word without merges, the last one carrying `</w>`. */
function byteIds(word: string): number[] {
  const bytes = [...Buffer.from(word, 'utf8')];
  return bytes.map((b, i) => id(BYTE_CHAR[b]! + (i === bytes.length - 1 ? '</w>' : '')));
}

/** tokenizer.json as `tokenizers` serialises CLIP's, over the tiny vocabulary. */
function tinyTokenizerJson(overrides: Record<string, unknown> = {}): unknown {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: START, content: '<|startoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: END, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', END], cls: ['<|startoftext|>', START], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|endoftext|>',
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: VOCAB,
      merges: MERGES,
    },
    ...overrides,
  };
}


describe('CLIP tokenizer on a tiny vocab.json + merges.txt', () => {
  let work: string;
  let bpeSource: TokenizerSource;
  let tok: ClipTokenizer;

  const mergesText = `#version: 0.2\n${MERGES.map(([a, b]) => `${a} ${b}`).join('\n')}\n`;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-tokenizer-'));
    writeFileSync(path.join(work, 'vocab.json'), JSON.stringify(VOCAB));
    writeFileSync(path.join(work, 'merges.txt'), mergesText);
    bpeSource = { kind: 'bpe', vocabFile: path.join(work, 'vocab.json'), mergesFile: path.join(work, 'merges.txt') };
    tok = await loadTokenizer(bpeSource, 77);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('reports the special ids, the padding id (the end token by default) and the vocabulary size', () => {
    expect(tok.startId).toBe(START);
    expect(tok.endId).toBe(END);
    expect(tok.padId).toBe(END);
    expect(tok.vocabSize).toBe(Object.keys(VOCAB).length);
    expect(tok.contextLength).toBe(77);
  });

  it('applies merges lowest rank first, with </w> marking the end of each word', () => {
    // lower: l o w e r</w> -> lo w e r</w> -> lo w er</w> -> low er</w> -> lower</w>
    expect(tok.encode('low lower')).toEqual([START, id('low</w>'), id('lower</w>'), END]);
    // inside a word "w" has no </w>, so "lowe" takes the word-internal merge "lo w" -> low, not low</w>
    expect(tok.encode('lowe')).toEqual([START, id('low'), id('e</w>'), END]);
    // "lo" alone: l o</w> has no merge (only "l o"), so it stays two byte symbols
    expect(tok.encode('lo')).toEqual([START, ...byteIds('lo'), END]);
  });

  it('lowercases, collapses whitespace runs and drops leading and trailing whitespace', () => {
    expect(tok.encode('  LOW \t\n\u00a0 LoWeR ')).toEqual(tok.encode('low lower'));
    expect(tok.encode('')).toEqual([START, END]);
    expect(tok.encode(' \t\n')).toEqual([START, END]);
  });

  it('lowercases capital sigma to σ everywhere, as tokenizers does, never to final ς', () => {
    expect(tok.encode('ΣΑΣ')).toEqual(tok.encode('σασ'));
    expect(tok.encode('ΣΑΣ')).not.toEqual(tok.encode('σας'));
  });

  it('splits digits one by one and runs of symbols apart from letters', () => {
    expect(tok.encode('low,12')).toEqual([START, id('low</w>'), id(',</w>'), id('1</w>'), id('2</w>'), END]);
    expect(tok.encode("low's")).toEqual([START, id('low</w>'), ...byteIds("'s"), END]);
  });

  it('encodes characters outside the merges through their UTF-8 bytes', () => {
    expect(tok.encode('é')).toEqual([START, ...byteIds('é'), END]);
    expect(tok.encode('🛰 東京')).toEqual([START, ...byteIds('🛰'), ...byteIds('東京'), END]);
  });

  it('matches literal special tokens in the raw text, but not their case variants', () => {
    expect(tok.encode('low<|endoftext|>low')).toEqual([START, id('low</w>'), END, id('low</w>'), END]);
    // lowercased after special-token matching, then split by the byte-level regex into "<|", word, "|>"
    expect(tok.encode('<|ENDOFTEXT|>')).toEqual([START, ...byteIds('<|'), ...byteIds('endoftext'), ...byteIds('|>'), END]);
  });

  it('truncates to the context length keeping the end token last, and counts the untruncated ids', async () => {
    const short = await loadTokenizer(bpeSource, 5);
    expect(short.encode('a b c d e')).toEqual([START, id('a</w>'), id('b</w>'), id('c</w>'), END]);
    expect(short.tokenCount('a b c d e')).toBe(7);
    expect(short.encode('a b c')).toEqual([START, id('a</w>'), id('b</w>'), id('c</w>'), END]);
    expect(short.tokenCount('a b c')).toBe(5);
  });

  it('pads a batch with the padding id to the longest text, with mask 1 on real tokens', () => {
    const batch = tok.encodeBatch(['low', 'a b c', '']);
    expect(batch.batchSize).toBe(3);
    expect(batch.sequenceLength).toBe(5);
    const P = BigInt(tok.padId);
    const [s, e] = [BigInt(START), BigInt(END)];
    expect([...batch.inputIds]).toEqual([
      s, BigInt(id('low</w>')), e, P, P,
      s, BigInt(id('a</w>')), BigInt(id('b</w>')), BigInt(id('c</w>')), e,
      s, e, P, P, P,
    ]);
    expect([...batch.attentionMask]).toEqual([1n, 1n, 1n, 0n, 0n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 0n, 0n, 0n]);
  });

  it('pads to padTo when asked, and refuses a padTo shorter than the longest text', () => {
    const batch = tok.encodeBatch(['low'], { padTo: 6 });
    expect(batch.sequenceLength).toBe(6);
    expect([...batch.inputIds].slice(3)).toEqual([BigInt(tok.padId), BigInt(tok.padId), BigInt(tok.padId)]);
    expect([...batch.attentionMask]).toEqual([1n, 1n, 1n, 0n, 0n, 0n]);
    expect(() => tok.encodeBatch(['a b c'], { padTo: 4 })).toThrow(/padTo/);
  });

  it('refuses an empty batch with BAD_INPUT', () => {
    let error: unknown;
    try {
      tok.encodeBatch([]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RsclipError);
    expect((error as RsclipError).code).toBe('BAD_INPUT');
  });

  it('reads the padding token from tokenizer_config.json beside vocab.json', async () => {
    const dir = mkdtempSync(path.join(work, 'config-'));
    writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(VOCAB));
    writeFileSync(path.join(dir, 'merges.txt'), mergesText);
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ pad_token: { content: '!' }, eos_token: '<|endoftext|>' }));
    const padded = await loadTokenizer({ kind: 'bpe', vocabFile: path.join(dir, 'vocab.json'), mergesFile: path.join(dir, 'merges.txt') }, 77);
    expect(padded.padId).toBe(id('!'));
    expect([...padded.encodeBatch(['low', '']).inputIds].at(-1)).toBe(BigInt(id('!')));
  });

  it('gives the same ids from an equivalent tokenizer.json', async () => {
    const dir = mkdtempSync(path.join(work, 'json-'));
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
    const fromJson = await loadTokenizer({ kind: 'tokenizer.json', file: path.join(dir, 'tokenizer.json') }, 77);
    for (const text of ['low lower', 'LOWE, 12 é', '🛰<|endoftext|>x', '']) expect(fromJson.encode(text)).toEqual(tok.encode(text));
    expect(fromJson.padId).toBe(END);
  });

  it('refuses a tokenizer.json whose normaliser is not CLIP\'s, naming the file', async () => {
    const dir = mkdtempSync(path.join(work, 'bert-'));
    const file = path.join(dir, 'tokenizer.json');
    writeFileSync(file, JSON.stringify(tinyTokenizerJson({ normalizer: { type: 'BertNormalizer', lowercase: true } })));
    await expectRsclipError(loadTokenizer({ kind: 'tokenizer.json', file }, 77), 'MODEL_INVALID', /tokenizer\.json: normalizer is .*BertNormalizer/);
  });

  it('refuses malformed files with MODEL_INVALID naming the file and the line', async () => {
    const dir = mkdtempSync(path.join(work, 'bad-'));
    const vocabFile = path.join(dir, 'vocab.json');
    const mergesFile = path.join(dir, 'merges.txt');
    writeFileSync(vocabFile, JSON.stringify(VOCAB));
    writeFileSync(mergesFile, '#version: 0.2\nl o\nlo w x\n');
    await expectRsclipError(loadTokenizer({ kind: 'bpe', vocabFile, mergesFile }, 77), 'MODEL_INVALID', /merges\.txt: line 3/);
    writeFileSync(mergesFile, '#version: 0.2\nq z\n');
    await expectRsclipError(loadTokenizer({ kind: 'bpe', vocabFile, mergesFile }, 77), 'MODEL_INVALID', /"qz", which is not in the vocabulary/);
    writeFileSync(vocabFile, '{"a": 0,');
    await expectRsclipError(loadTokenizer({ kind: 'bpe', vocabFile, mergesFile }, 77), 'MODEL_INVALID', /vocab\.json: is not valid JSON/);
  });

  it('refuses a merges.txt cut short, at a line end or inside a line, naming it and the tokens no merge makes', async () => {
    const dir = mkdtempSync(path.join(work, 'cut-'));
    const vocabFile = path.join(dir, 'vocab.json');
    const mergesFile = path.join(dir, 'merges.txt');
    writeFileSync(vocabFile, JSON.stringify(VOCAB));
    // a copy that stopped after a line: the later merges' tokens are in vocab.json but nothing makes them
    writeFileSync(mergesFile, '#version: 0.2\nl o\nlo w</w>\n');
    await expectRsclipError(loadTokenizer({ kind: 'bpe', vocabFile, mergesFile }, 77), 'MODEL_INVALID', /merges\.txt: looks cut short: merges\.txt has 2 merges, .*3 tokens of vocab\.json \(e\.g\. "er<\/w>", "low", "lower<\/w>"\)/);
    // one that stopped inside a line whose start is still a merge of vocabulary tokens ("lo w</w>" -> "lo w")
    writeFileSync(mergesFile, '#version: 0.2\nl o\nlo w');
    await expectRsclipError(loadTokenizer({ kind: 'bpe', vocabFile, mergesFile }, 77), 'MODEL_INVALID', /merges\.txt: looks cut short/);
  });

  it('takes a vocab.json holding a token added beside the BPE (added_tokens.json or tokenizer_config.json), which no merge makes; one merge short is still refused, in the singular', async () => {
    const dir = mkdtempSync(path.join(work, 'added-'));
    const vocabFile = path.join(dir, 'vocab.json');
    const mergesFile = path.join(dir, 'merges.txt');
    const pad = Math.max(...Object.values(VOCAB)) + 1;
    writeFileSync(vocabFile, JSON.stringify({ ...VOCAB, '[PAD]': pad }));
    writeFileSync(mergesFile, `#version: 0.2\n${MERGES.map((m) => m.join(' ')).join('\n')}\n`);
    await expectRsclipError(loadTokenizer({ kind: 'bpe', vocabFile, mergesFile }, 77), 'MODEL_INVALID', /1 token of vocab\.json \(e\.g\. "\[PAD\]"\) is made by none of them/);
    writeFileSync(path.join(dir, 'added_tokens.json'), JSON.stringify({ '[PAD]': pad }));
    await expect(loadTokenizer({ kind: 'bpe', vocabFile, mergesFile }, 77)).resolves.toBeDefined();
    rmSync(path.join(dir, 'added_tokens.json'));
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ added_tokens_decoder: { [pad]: { content: '[PAD]', special: true } } }));
    await expect(loadTokenizer({ kind: 'bpe', vocabFile, mergesFile }, 77)).resolves.toBeDefined();
  });

  it('refuses a tokenizer.json whose model.merges is cut short', async () => {
    const dir = mkdtempSync(path.join(work, 'cut-json-'));
    const file = path.join(dir, 'tokenizer.json');
    const json = tinyTokenizerJson() as { model: Record<string, unknown> };
    writeFileSync(file, JSON.stringify({ ...json, model: { ...json.model, merges: MERGES.slice(0, 3) } }));
    await expectRsclipError(loadTokenizer({ kind: 'tokenizer.json', file }, 77), 'MODEL_INVALID', /tokenizer\.json: looks cut short: model\.merges has 3 merges, .*2 tokens of model\.vocab/);
  });
});

interface GoldenCase {
  text: string;
  ids: number[];
  untruncated_len: number;
}

describeShared('CLIP tokenizer against tokenizer_golden.json (5,008 texts)', () => {
  let golden: { cases: GoldenCase[] };
  beforeAll(() => {
    golden = JSON.parse(readFileSync(sharedPath('golden', 'tokenizer_golden.json'), 'utf8')) as { cases: GoldenCase[] };
  });
  const sources: [string, TokenizerSource][] = [
    ['tiny-clip/tokenizer.json', { kind: 'tokenizer.json', file: sharedPath('golden', 'tiny-clip', 'tokenizer.json') }],
    ['clip/vocab.json + merges.txt', { kind: 'bpe', vocabFile: sharedPath('clip', 'vocab.json'), mergesFile: sharedPath('clip', 'merges.txt') }],
  ];

  it.each(sources)('gives identical ids and untruncated lengths from %s', async (_name, source) => {
    const tok = await loadTokenizer(source, 77);
    expect(golden.cases).toHaveLength(5008);
    expect([tok.startId, tok.endId, tok.padId, tok.vocabSize]).toEqual([49406, 49407, 49407, 49408]);
    const wrong = golden.cases.filter((c) => JSON.stringify(tok.encode(c.text)) !== JSON.stringify(c.ids)).map((c) => c.text);
    expect(wrong).toEqual([]);
    const wrongLength = golden.cases.filter((c) => tok.tokenCount(c.text) !== c.untruncated_len).map((c) => c.text);
    expect(wrongLength).toEqual([]);
    expect(golden.cases.some((c) => c.untruncated_len > 77)).toBe(true);
  });

  it('refuses the real vocab.json with its merges.txt cut short (a partial copy), which would change ids silently', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rsclip-merges-cut-'));
    try {
      const mergesFile = path.join(dir, 'merges.txt');
      writeFileSync(mergesFile, readFileSync(sharedPath('clip', 'merges.txt')).subarray(0, 200_000));
      await expectRsclipError(loadTokenizer({ kind: 'bpe', vocabFile: sharedPath('clip', 'vocab.json'), mergesFile }, 77), 'MODEL_INVALID', /merges\.txt: looks cut short: merges\.txt has 19,887 merges/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pads the golden text inputs to 77 exactly as the embeddings reference did', async () => {
    const inputs = JSON.parse(readFileSync(sharedPath('golden', 'embeds', 'text_inputs.json'), 'utf8')) as { texts: string[]; input_ids: number[][] };
    const tok = await loadTokenizer(sources[0]![1], 77);
    const batch = tok.encodeBatch(inputs.texts, { padTo: 77 });
    expect(batch.sequenceLength).toBe(77);
    expect(Array.from(batch.inputIds, Number)).toEqual(inputs.input_ids.flat());
  });
});
