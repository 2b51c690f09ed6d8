/**
 * A small CLIP-style byte-level BPE vocabulary for random models, so that a model directory
 * can be generated without the real CLIP vocabulary. Layout as in openai/CLIP's
 * SimpleTokenizer: the 256 byte symbols (bytes_to_unicode order), the same with `</w>`,
 * one token per merge, then `<|startoftext|>` and `<|endoftext|>`. The merges are learnt
 * by a tiny BPE trainer from a built-in word list.
 */

/** Words the merges are learnt from: common English and remote-sensing caption words. */
const TRAINING_WORDS = `
a an the of and in on at to with near by from is are there some many several two three four five
large small big little long wide narrow tall short white green gray grey dark bright blue red brown
aerial photo photograph image view scene picture satellite top
airport runway plane planes airplane building buildings house houses residential area areas dense
sparse medium commercial industrial farmland farm field fields meadow forest trees tree river lake
pond sea beach coast island bridge road roads street railway station train parking lot lots car
cars vehicle vehicles ship ships boat boats harbor port stadium baseball tennis court courts
playground park square church school center resort storage tank tanks desert mountain mountains
bare land grass green land viaduct pond water waters lawn pool swimming football track ground
surrounded located next between around along across beside side middle some lines line rows row
circle circular round square shaped buildings building parked crossing intersection interchange
highway freeway overpass dock docks container containers vegetation crops crop cultivated
this that these those it its they them we you he she his her our your their what which who
`;

/**
 * openai/CLIP's bytes_to_unicode: printable bytes map to their own character, the other
 * bytes to U+0100 onwards. `symbols` is in vocabulary order (printable bytes first).
 */
export function bytesToUnicode(): { symbols: string[]; byteSymbol: Map<number, string> } {
  const isPrintable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const symbols: string[] = [];
  const byteSymbol = new Map<number, string>();
  for (let b = 0; b < 256; b++) {
    if (isPrintable(b)) {
      byteSymbol.set(b, String.fromCodePoint(b));
      symbols.push(String.fromCodePoint(b));
    }
  }
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    if (!isPrintable(b)) {
      const ch = String.fromCodePoint(256 + shifted++);
      byteSymbol.set(b, ch);
      symbols.push(ch);
    }
  }
  return { symbols, byteSymbol };
}

export interface BpeVocabulary {
  /** token -> id, as vocab.json stores it. */
  vocab: Record<string, number>;
  /** "left right" pairs in merge order, as merges.txt lists them (without the version line). */
  merges: string[];
  bosTokenId: number;
  eosTokenId: number;
  size: number;
}

function wordSymbols(word: string, byteChars: Map<number, string>): string[] {
  const symbols = [...new TextEncoder().encode(word)].map((b) => byteChars.get(b)!);
  symbols[symbols.length - 1] += '</w>';
  return symbols;
}

/** Learns up to `maxMerges` merges (most frequent pair first, ties broken by text) and builds the vocabulary. */
export function buildBpeVocabulary(maxMerges = 400): BpeVocabulary {
  const { symbols: chars, byteSymbol: byteChars } = bytesToUnicode();
  const tokens: string[] = [...chars, ...chars.map((c) => `${c}</w>`)];
  const known = new Set(tokens);
  const words = [...new Set(TRAINING_WORDS.split(/\s+/).filter((w) => w.length > 0))].map((w) => wordSymbols(w, byteChars));
  const merges: string[] = [];
  const banned = new Set<string>();
  while (merges.length < maxMerges) {
    const counts = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) {
        const key = `${w[i]} ${w[i + 1]}`;
        if (!banned.has(key)) counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of counts) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    const merged = left + right;
    // Two different pairs can spell the same token; keep ids unique by skipping the later one.
    if (known.has(merged)) {
      banned.add(best);
      continue;
    }
    known.add(merged);
    tokens.push(merged);
    merges.push(best);
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) {
        if (w[i] === left && w[i + 1] === right) w.splice(i, 2, merged);
      }
    }
  }
  tokens.push('<|startoftext|>', '<|endoftext|>');
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  return { vocab, merges, bosTokenId: tokens.length - 2, eosTokenId: tokens.length - 1, size: tokens.length };
}
