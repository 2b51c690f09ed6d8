/**
 * The CLIP tokenizer, computing the ids of Hugging Face's `CLIPTokenizer` (the `tokenizers`
 * library's pipeline in CLIP's tokenizer.json, without ftfy):
 *   special tokens matched verbatim in the raw text
 *   -> normalise: NFC, every whitespace run to one space, lowercase
 *   -> pre-tokenise: CLIP's split regex (contractions, letter runs, single digits, symbol runs)
 *   -> byte-level: GPT-2's regex split, UTF-8 bytes as printable characters
 *   -> BPE with the `</w>` end-of-word suffix
 *   -> `<|startoftext|>` ids `<|endoftext|>`, truncated to the context length keeping the end token.
 */
import { RsclipError, invalidParameter } from '../errors.js';
import type { ModelDirectory } from './model-dir.js';
import { ByteLevelBpe } from './tokenizer-bpe.js';
import { readTokenizerSpec, type ClipTokenizerSpec } from './tokenizer-files.js';

export interface TokenizedBatch {
  /** Row-major [batchSize, sequenceLength]. */
  inputIds: BigInt64Array;
  /** 1 for real tokens (start and end included), 0 for padding; same shape as inputIds. */
  attentionMask: BigInt64Array;
  batchSize: number;
  sequenceLength: number;
}

export interface EncodeBatchOptions {
  /** Pad every row to exactly this length (a text graph with a fixed sequence length) instead of to the longest text. */
  padTo?: number;
}

export interface ClipTokenizer {
  readonly contextLength: number;
  readonly startId: number;
  readonly endId: number;
  readonly padId: number;
  readonly vocabSize: number;
  /** ids with start and end tokens, truncated to contextLength keeping the end token as the last id */
  encode(text: string): number[];
  /** How many ids `text` has before truncation, start and end included (more than contextLength: it was truncated). */
  tokenCount(text: string): number;
  /** pads with padId to the longest text in the batch (or to options.padTo when the ONNX graph has a fixed length); mask 1 for real tokens */
  encodeBatch(texts: string[], options?: EncodeBatchOptions): TokenizedBatch;
}

// The `tokenizers` library's `\s` is Unicode White_Space; JavaScript's `\s` differs (it adds U+FEFF, lacks U+0085).
const WHITESPACE_RUN = /\p{White_Space}+/gu;
const CLIP_SPLIT = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/gu;
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;
const CAPITAL_SIGMA = /\u03a3/g;

/**
 * NFC, whitespace runs to one space, lowercase. `tokenizers` lowercases character by character,
 * so capital sigma always becomes σ; `toLowerCase` alone would apply the final-sigma rule (ς).
 */
export function normalizeClipText(text: string): string {
  return text.normalize('NFC').replace(WHITESPACE_RUN, ' ').replace(CAPITAL_SIGMA, '\u03c3').toLowerCase();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

class ClipBpeTokenizer implements ClipTokenizer {
  readonly contextLength: number;
  readonly startId: number;
  readonly endId: number;
  readonly padId: number;
  readonly vocabSize: number;
  readonly #bpe: ByteLevelBpe;
  readonly #specialIds: ReadonlyMap<string, number>;
  /** Longest first, so that one special token that prefixes another cannot shadow it. */
  readonly #specialPattern: RegExp | undefined;
  readonly #byteLevelSplit: boolean;

  constructor(spec: ClipTokenizerSpec, contextLength: number) {
    this.contextLength = contextLength;
    this.startId = spec.startId;
    this.endId = spec.endId;
    this.padId = spec.padId;
    this.vocabSize = spec.vocabSize;
    this.#bpe = new ByteLevelBpe(spec.bpe);
    this.#specialIds = spec.specialTokens;
    const specials = [...spec.specialTokens.keys()].sort((a, b) => b.length - a.length);
    this.#specialPattern = specials.length > 0 ? new RegExp(specials.map(escapeRegExp).join('|'), 'g') : undefined;
    this.#byteLevelSplit = spec.byteLevelSplit;
  }

  /** The ids between start and end, untruncated. */
  #contentIds(text: string): number[] {
    const ids: number[] = [];
    if (this.#specialPattern === undefined) {
      this.#encodeOrdinaryText(text, ids);
      return ids;
    }
    let last = 0;
    for (const match of text.matchAll(this.#specialPattern)) {
      if (match.index > last) this.#encodeOrdinaryText(text.slice(last, match.index), ids);
      ids.push(this.#specialIds.get(match[0])!);
      last = match.index + match[0].length;
    }
    if (last < text.length) this.#encodeOrdinaryText(text.slice(last), ids);
    return ids;
  }

  #encodeOrdinaryText(text: string, out: number[]): void {
    for (const [piece] of normalizeClipText(text).matchAll(CLIP_SPLIT)) {
      // CLIP's pieces hold no whitespace, so GPT-2's regex only splits a literal special-token
      // piece that normalisation produced (e.g. from "<|ENDOFTEXT|>") into "<|", word, "|>".
      if (this.#byteLevelSplit && piece.startsWith('<|')) {
        for (const [word] of piece.matchAll(GPT2_SPLIT)) this.#bpe.encodeWordInto(word, out);
      } else {
        this.#bpe.encodeWordInto(piece, out);
      }
    }
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw invalidParameter('text', 'a string', text);
    const content = this.#contentIds(text);
    const room = this.contextLength - 2;
    if (content.length > room) content.length = room;
    return [this.startId, ...content, this.endId];
  }

  tokenCount(text: string): number {
    if (typeof text !== 'string') throw invalidParameter('text', 'a string', text);
    return this.#contentIds(text).length + 2;
  }

  encodeBatch(texts: string[], options: EncodeBatchOptions = {}): TokenizedBatch {
    if (!Array.isArray(texts) || texts.length === 0) {
      throw new RsclipError('BAD_INPUT', 'no texts to tokenize: expected at least one text, got an empty list');
    }
    const rows = texts.map((t) => this.encode(t));
    const longest = Math.max(...rows.map((r) => r.length));
    const { padTo } = options;
    if (padTo !== undefined && (!Number.isInteger(padTo) || padTo < longest)) {
      throw invalidParameter('padTo', `an integer >= ${longest} (the longest text's token count)`, padTo);
    }
    const sequenceLength = padTo ?? longest;
    const inputIds = new BigInt64Array(rows.length * sequenceLength).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(rows.length * sequenceLength);
    rows.forEach((row, r) => {
      const offset = r * sequenceLength;
      for (let i = 0; i < row.length; i++) {
        inputIds[offset + i] = BigInt(row[i]!);
        attentionMask[offset + i] = 1n;
      }
    });
    return { inputIds, attentionMask, batchSize: rows.length, sequenceLength };
  }
}

/** Loads a model directory's CLIP tokenizer (tokenizer.json, or vocab.json + merges.txt). */
export async function loadTokenizer(source: ModelDirectory['tokenizer'], contextLength: number): Promise<ClipTokenizer> {
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    throw invalidParameter('contextLength', 'an integer >= 2 (room for the start and end tokens)', contextLength);
  }
  return new ClipBpeTokenizer(await readTokenizerSpec(source), contextLength);
}
