/**
 * Reads a CLIP tokenizer definition from a model directory: either `tokenizer.json`
 * (the `tokenizers` library's serialisation) or the older `vocab.json` + `merges.txt`
 * pair, each optionally beside a `tokenizer_config.json` naming the special tokens.
 * Both resolve to one `ClipTokenizerSpec`; anything rsclip would tokenize differently
 * from Python (another normaliser, pre-tokeniser or model type) is refused by name.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { RsclipError } from '../errors.js';
import type { BpeModel } from './tokenizer-bpe.js';
import type { ModelDirectory } from './model-dir.js';

export interface ClipTokenizerSpec {
  bpe: BpeModel;
  /** Added tokens, matched verbatim in the raw text before normalisation (CLIP has only start and end). */
  specialTokens: ReadonlyMap<string, number>;
  /** Whether the byte-level step also splits each piece with GPT-2's regex (`use_regex`). */
  byteLevelSplit: boolean;
  startId: number;
  endId: number;
  padId: number;
  vocabSize: number;
}

export const CLIP_START_TOKEN = '<|startoftext|>';
export const CLIP_END_TOKEN = '<|endoftext|>';
/** The pre-tokenizer regex of CLIP's tokenizer.json (`Split`, behaviour Removed, inverted). */
export const CLIP_SPLIT_PATTERN = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

const REFETCH = 'fetch the model again (`rsclip model fetch <repo-id>`) or export it (`rsclip model export <checkpoint-dir> --out <model-dir>`)';

function invalid(file: string, what: string, cause?: unknown): RsclipError {
  return new RsclipError('MODEL_INVALID', `${file}: ${what}`, { hint: REFETCH, cause });
}

async function readJsonFile(file: string): Promise<unknown> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (cause) {
    throw invalid(file, `cannot be read (${(cause as Error).message})`, cause);
  }
  try {
    return JSON.parse(raw);
  } catch (cause) {
    throw invalid(file, `is not valid JSON: ${(cause as Error).message}`, cause);
  }
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, file: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid(file, `is malformed: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data;
}

/** vocab.json / tokenizer.json's `model.vocab`: token -> id. Checked by hand: zod takes seconds on 49k entries. */
function toVocabMap(value: unknown, file: string): Map<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(file, 'the vocabulary is not a JSON object of token -> id');
  const vocab = new Map<string, number>();
  const entries = value as Record<string, unknown>;
  // for...in over a JSON.parse result sees only its own keys, and is ~2x faster than Object.entries here
  for (const token in entries) {
    const id = entries[token];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw invalid(file, `the id of ${JSON.stringify(token)} is ${JSON.stringify(id)}, expected a non-negative integer`);
    vocab.set(token, id);
  }
  return vocab;
}

/** tokenizer.json's `model.merges`: ["a", "b"] pairs, or "a b" strings in older files. */
function toMergePairs(value: unknown, file: string): [string, string][] {
  if (!Array.isArray(value)) throw invalid(file, 'model.merges is not a list');
  return value.map((merge: unknown, index) => {
    if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === 'string' && typeof merge[1] === 'string') return [merge[0], merge[1]];
    const parts = typeof merge === 'string' ? merge.split(' ') : [];
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw invalid(file, `merge ${index + 1} is ${JSON.stringify(merge)}, expected two tokens ("a b" or ["a", "b"])`);
    }
    return [parts[0], parts[1]];
  });
}
/** tokenizer_config.json writes a token either as its text or as an AddedToken object. */
const tokenNameSchema = z.union([z.string(), z.looseObject({ content: z.string() })]).nullish();
const tokenizerConfigSchema = z.looseObject({
  bos_token: tokenNameSchema,
  eos_token: tokenNameSchema,
  pad_token: tokenNameSchema,
  unk_token: tokenNameSchema,
  /** transformers' record of the tokens added beside the BPE's own, by id. */
  added_tokens_decoder: z.record(z.string(), z.looseObject({ content: z.string() })).optional(),
});
type TokenizerConfig = z.infer<typeof tokenizerConfigSchema>;

function tokenName(value: z.infer<typeof tokenNameSchema>): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? value : value.content;
}

/**
 * The tokens added beside the BPE's own, which no merge makes: those of added_tokens.json
 * (token -> id) and of tokenizer_config.json's added_tokens_decoder ("[PAD]", say).
 */
async function addedTokenNames(dir: string, config: TokenizerConfig): Promise<string[]> {
  const names = Object.values(config.added_tokens_decoder ?? {}).map((t) => t.content);
  const file = path.join(dir, 'added_tokens.json');
  if (existsSync(file)) names.push(...Object.keys(parseWith(z.record(z.string(), z.number()), await readJsonFile(file), file)));
  return names;
}

async function readTokenizerConfig(dir: string): Promise<TokenizerConfig> {
  const file = path.join(dir, 'tokenizer_config.json');
  if (!existsSync(file)) return {};
  return parseWith(tokenizerConfigSchema, await readJsonFile(file), file);
}

/** Looks a token up among the added tokens first, then the vocabulary. */
function lookup(tokens: ReadonlyArray<ReadonlyMap<string, number>>, token: string): number | undefined {
  for (const map of tokens) {
    const id = map.get(token);
    if (id !== undefined) return id;
  }
  return undefined;
}

function idOf(tokens: ReadonlyArray<ReadonlyMap<string, number>>, token: string, file: string, role: string): number {
  const id = lookup(tokens, token);
  if (id === undefined) throw invalid(file, `the ${role} token ${JSON.stringify(token)} is not in the vocabulary`);
  return id;
}

/** Checks that every merge's parts and result are vocabulary tokens, as `tokenizers` does on load. */
function checkMerges(merges: ReadonlyArray<readonly [string, string]>, vocab: ReadonlyMap<string, number>, file: string): void {
  merges.forEach(([left, right], index) => {
    for (const token of [left, right, left + right]) {
      if (!vocab.has(token)) throw invalid(file, `merge ${index + 1} ("${left} ${right}") uses ${JSON.stringify(token)}, which is not in the vocabulary`);
    }
  });
}

/** How the completeness check names the two halves of a tokenizer in its message. */
interface TokenizerParts {
  /** The file (or file and key) holding the merges, named first: a cut copy is usually its end missing. */
  mergesFile: string;
  merges: string;
  vocab: string;
}

/**
 * Checks that the merges make the whole vocabulary. A byte-level BPE vocabulary (CLIP's:
 * 512 byte tokens, one token per merge, then the special tokens) holds only its alphabet (one
 * symbol, with or without the end-of-word suffix), the special tokens and the result of each
 * merge; any other token no merge can make. A merge list cut short (a partial download of
 * merges.txt, at a line or inside one) leaves every later merge's token so, and would silently
 * tokenize differently: it is refused, naming the count and examples.
 */
function checkMergesComplete(
  merges: ReadonlyArray<readonly [string, string]>,
  vocab: ReadonlyMap<string, number>,
  special: Iterable<string>,
  endOfWordSuffix: string,
  parts: TokenizerParts,
): void {
  const made = new Set<string>(special);
  for (const [left, right] of merges) made.add(left + right);
  const unmade: string[] = [];
  for (const token of vocab.keys()) {
    if (made.has(token)) continue;
    const symbol = endOfWordSuffix !== '' && token.endsWith(endOfWordSuffix) ? token.slice(0, -endOfWordSuffix.length) : token;
    // one code point: an alphabet symbol (a surrogate pair counts as one)
    if (symbol.length > 0 && symbol.length <= 2 && [...symbol].length === 1) continue;
    unmade.push(token);
  }
  if (unmade.length === 0) return;
  const examples = unmade.slice(0, 3).map((t) => JSON.stringify(t)).join(', ');
  const last = merges.length > 0 ? `, the last "${merges[merges.length - 1]!.join(' ')}"` : '';
  throw invalid(
    parts.mergesFile,
    `looks cut short: ${parts.merges} has ${merges.length.toLocaleString('en-US')} merges${last}, but ${unmade.length.toLocaleString('en-US')} token${unmade.length === 1 ? '' : 's'} of ${parts.vocab} (e.g. ${examples}) ${unmade.length === 1 ? 'is' : 'are'} made by none of them (a CLIP vocabulary holds the byte tokens, one token per merge and the special tokens)`,
  );
}

function vocabSizeOf(vocab: ReadonlyMap<string, number>, special: ReadonlyMap<string, number>): number {
  let max = -1;
  for (const id of vocab.values()) if (id > max) max = id;
  for (const id of special.values()) if (id > max) max = id;
  return max + 1;
}

/** vocab.json + merges.txt, with CLIP's special tokens (or those named in tokenizer_config.json). */
async function readVocabAndMerges(vocabFile: string, mergesFile: string): Promise<ClipTokenizerSpec> {
  const vocab = toVocabMap(await readJsonFile(vocabFile), vocabFile);
  let mergesText: string;
  try {
    mergesText = await readFile(mergesFile, 'utf8');
  } catch (cause) {
    throw invalid(mergesFile, `cannot be read (${(cause as Error).message})`, cause);
  }
  const merges: [string, string][] = [];
  mergesText.split('\n').forEach((rawLine, index) => {
    const line = rawLine.replace(/\r$/, '');
    if (line.length === 0 || (index === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw invalid(mergesFile, `line ${index + 1} is ${JSON.stringify(line)}, expected two tokens separated by one space`);
    }
    merges.push([parts[0], parts[1]]);
  });
  checkMerges(merges, vocab, mergesFile);

  const config = await readTokenizerConfig(path.dirname(vocabFile));
  const start = tokenName(config.bos_token) ?? CLIP_START_TOKEN;
  const end = tokenName(config.eos_token) ?? CLIP_END_TOKEN;
  const pad = tokenName(config.pad_token) ?? end;
  const unk = tokenName(config.unk_token) ?? CLIP_END_TOKEN;
  const specialTokens = new Map([start, end].map((t) => [t, idOf([vocab], t, vocabFile, t === start ? 'start' : 'end')] as const));
  const added = await addedTokenNames(path.dirname(vocabFile), config);
  checkMergesComplete(merges, vocab, [start, end, pad, unk, ...added], '</w>', { mergesFile, merges: path.basename(mergesFile), vocab: path.basename(vocabFile) });
  return {
    bpe: { vocab, merges, endOfWordSuffix: '</w>', unkId: vocab.get(unk) },
    specialTokens,
    byteLevelSplit: true,
    startId: specialTokens.get(start)!,
    endId: specialTokens.get(end)!,
    padId: idOf([vocab], pad, vocabFile, 'padding'),
    vocabSize: vocabSizeOf(vocab, specialTokens),
  };
}

const regexPattern = z.object({ Regex: z.string() });
const normalizerSchema = z.looseObject({
  type: z.literal('Sequence'),
  normalizers: z.tuple([
    z.looseObject({ type: z.literal('NFC') }),
    z.looseObject({ type: z.literal('Replace'), pattern: z.object({ Regex: z.literal('\\s+') }), content: z.literal(' ') }),
    z.looseObject({ type: z.literal('Lowercase') }),
  ]),
});
const preTokenizerSchema = z.looseObject({
  type: z.literal('Sequence'),
  pretokenizers: z.tuple([
    z.looseObject({ type: z.literal('Split'), pattern: regexPattern, behavior: z.literal('Removed'), invert: z.literal(true) }),
    z.looseObject({ type: z.literal('ByteLevel'), add_prefix_space: z.literal(false), use_regex: z.boolean().optional() }),
  ]),
});
const tokenizerJsonSchema = z.looseObject({
  added_tokens: z.array(z.looseObject({ id: z.number().int().nonnegative(), content: z.string(), special: z.boolean().optional() })).default([]),
  normalizer: z.unknown(),
  pre_tokenizer: z.unknown(),
  post_processor: z.looseObject({ cls: z.tuple([z.string(), z.number().int()]).optional(), sep: z.tuple([z.string(), z.number().int()]).optional() }).nullish(),
  padding: z.looseObject({ pad_id: z.number().int().nonnegative() }).nullish(),
  model: z.looseObject({
    type: z.literal('BPE'),
    vocab: z.unknown(),
    merges: z.unknown(),
    end_of_word_suffix: z.string().nullish(),
    unk_token: z.string().nullish(),
  }),
});

/** tokenizer.json; its normaliser and pre-tokeniser must be CLIP's, which is what rsclip implements. */
async function readTokenizerJson(file: string): Promise<ClipTokenizerSpec> {
  const json = parseWith(tokenizerJsonSchema, await readJsonFile(file), file);
  const expectClip = 'rsclip implements the CLIP tokenizer (NFC, whitespace collapse, lowercase; CLIP split regex, byte-level BPE)';
  if (!normalizerSchema.safeParse(json.normalizer).success) {
    throw invalid(file, `normalizer is ${JSON.stringify(json.normalizer)}, expected CLIP's Sequence[NFC, Replace(\\s+ -> " "), Lowercase]; ${expectClip}`);
  }
  const pre = preTokenizerSchema.safeParse(json.pre_tokenizer);
  if (!pre.success || pre.data.pretokenizers[0].pattern.Regex !== CLIP_SPLIT_PATTERN) {
    throw invalid(file, `pre_tokenizer is ${JSON.stringify(json.pre_tokenizer)}, expected CLIP's Sequence[Split(${CLIP_SPLIT_PATTERN}), ByteLevel]; ${expectClip}`);
  }

  const vocab = toVocabMap(json.model.vocab, file);
  const merges = toMergePairs(json.model.merges, file);
  checkMerges(merges, vocab, file);
  const specialTokens = new Map(json.added_tokens.map((t) => [t.content, t.id] as const));
  const unkToken = json.model.unk_token;
  checkMergesComplete(merges, vocab, [...specialTokens.keys(), ...(unkToken ? [unkToken] : [])], json.model.end_of_word_suffix ?? '', {
    mergesFile: file,
    merges: 'model.merges',
    vocab: 'model.vocab',
  });
  const tokens = [specialTokens, vocab];
  const startId = json.post_processor?.cls?.[1] ?? idOf(tokens, CLIP_START_TOKEN, file, 'start');
  const endId = json.post_processor?.sep?.[1] ?? idOf(tokens, CLIP_END_TOKEN, file, 'end');
  const config = await readTokenizerConfig(path.dirname(file));
  const padName = tokenName(config.pad_token);
  const padId = json.padding?.pad_id ?? (padName === undefined ? endId : idOf(tokens, padName, path.join(path.dirname(file), 'tokenizer_config.json'), 'padding'));
  const unk = json.model.unk_token;
  return {
    bpe: {
      vocab,
      merges,
      endOfWordSuffix: json.model.end_of_word_suffix ?? '',
      unkId: unk === null || unk === undefined ? undefined : lookup(tokens, unk),
    },
    specialTokens,
    byteLevelSplit: pre.data.pretokenizers[1].use_regex ?? true,
    startId,
    endId,
    padId,
    vocabSize: vocabSizeOf(vocab, specialTokens),
  };
}

export function readTokenizerSpec(source: ModelDirectory['tokenizer']): Promise<ClipTokenizerSpec> {
  return source.kind === 'tokenizer.json' ? readTokenizerJson(source.file) : readVocabAndMerges(source.vocabFile, source.mergesFile);
}
