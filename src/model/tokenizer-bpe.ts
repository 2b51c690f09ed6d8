/**
 * Byte-level BPE with an end-of-word suffix, as the `tokenizers` library's `ByteLevel`
 * pre-tokenizer + `BPE { end_of_word_suffix: "</w>" }` model do it for CLIP:
 * a pre-tokenized word is UTF-8 encoded, each byte becomes one printable character
 * (GPT-2's `bytes_to_unicode` table), the last character carries the suffix, and merges
 * are applied lowest rank first until none applies. Results are cached per word.
 */

/** GPT-2's reversible byte -> printable character table. */
function byteToCharTable(): string[] {
  const table = new Array<string>(256);
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : next++);
  return table;
}

export const BYTE_TO_CHAR: readonly string[] = byteToCharTable();

export interface BpeModel {
  vocab: ReadonlyMap<string, number>;
  /** Merge pairs in rank order (rank = index). */
  merges: ReadonlyArray<readonly [string, string]>;
  endOfWordSuffix: string;
  /** Id used for a symbol missing from the vocabulary (CLIP: `<|endoftext|>`); undefined drops it. */
  unkId: number | undefined;
}

/** Above this many distinct words the cache is emptied, so a long-running server stays bounded. */
const MAX_CACHED_WORDS = 50_000;

export class ByteLevelBpe {
  readonly #vocab: ReadonlyMap<string, number>;
  /** "left right" -> rank; byte-level symbols never contain a space, so the key is unambiguous. */
  readonly #ranks = new Map<string, number>();
  readonly #suffix: string;
  readonly #unkId: number | undefined;
  readonly #cache = new Map<string, readonly number[]>();
  readonly #encoder = new TextEncoder();

  constructor(model: BpeModel) {
    this.#vocab = model.vocab;
    this.#suffix = model.endOfWordSuffix;
    this.#unkId = model.unkId;
    model.merges.forEach(([left, right], rank) => {
      const key = `${left} ${right}`;
      if (!this.#ranks.has(key)) this.#ranks.set(key, rank);
    });
  }

  /** Ids of one pre-tokenized word (no whitespace inside), appended to `out`. */
  encodeWordInto(word: string, out: number[]): void {
    let ids = this.#cache.get(word);
    if (ids === undefined) {
      ids = this.#encodeWord(word);
      if (this.#cache.size >= MAX_CACHED_WORDS) this.#cache.clear();
      this.#cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  #encodeWord(word: string): number[] {
    const bytes = this.#encoder.encode(word);
    if (bytes.length === 0) return [];
    const symbols: string[] = Array.from(bytes, (b) => BYTE_TO_CHAR[b]!);
    symbols[symbols.length - 1] += this.#suffix;
    this.#merge(symbols);
    const ids: number[] = [];
    for (const symbol of symbols) {
      const id = this.#vocab.get(symbol);
      if (id !== undefined) ids.push(id);
      else if (this.#unkId !== undefined) ids.push(this.#unkId);
    }
    return ids;
  }

  /** Repeatedly merges every occurrence of the lowest-ranked adjacent pair, left to right. */
  #merge(symbols: string[]): void {
    while (symbols.length > 1) {
      let bestRank = Infinity;
      let bestLeft = '';
      let bestRight = '';
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.#ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestLeft = symbols[i]!;
          bestRight = symbols[i + 1]!;
        }
      }
      if (bestRank === Infinity) return;
      let write = 0;
      for (let read = 0; read < symbols.length; read++) {
        if (read < symbols.length - 1 && symbols[read] === bestLeft && symbols[read + 1] === bestRight) {
          symbols[write++] = bestLeft + bestRight;
          read++;
        } else {
          symbols[write++] = symbols[read]!;
        }
      }
      symbols.length = write;
    }
  }
}
