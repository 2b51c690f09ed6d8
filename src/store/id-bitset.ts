/**
 * A set of item ids as one bit per id: item ids are SQLite row ids (dense, never reused), so
 * 10^7 items take about 1.2 MB here where a Set<number> takes hundreds of MB and seconds to
 * build. It is also the form the usearch engine stores its live ids in (see usearch-file.ts).
 */
export class IdBitset {
  private words: Uint32Array;
  private count = 0;

  constructor(words: Uint32Array = new Uint32Array(64)) {
    this.words = words;
    for (const word of words) this.count += popcount(word);
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    const word = id >>> 5;
    return word < this.words.length && (this.words[word]! & (1 << (id & 31))) !== 0;
  }

  add(id: number): void {
    checkId(id);
    const word = id >>> 5;
    if (word >= this.words.length) this.grow(word);
    const bit = 1 << (id & 31);
    if ((this.words[word]! & bit) === 0) {
      this.words[word]! |= bit;
      this.count++;
    }
  }

  delete(id: number): void {
    const word = id >>> 5;
    if (word >= this.words.length) return;
    const bit = 1 << (id & 31);
    if ((this.words[word]! & bit) !== 0) {
      this.words[word]! &= ~bit;
      this.count--;
    }
  }

  /** The ids, ascending. */
  ids(): number[] {
    const out: number[] = [];
    const { words } = this;
    for (let w = 0; w < words.length; w++) {
      let word = words[w]!;
      while (word !== 0) {
        const low = word & -word;
        out.push(w * 32 + 31 - Math.clz32(low));
        word ^= low;
      }
    }
    return out;
  }

  /** The words up to the last one in use (what is written to a file). */
  usedWords(): Uint32Array {
    let end = this.words.length;
    while (end > 0 && this.words[end - 1] === 0) end--;
    return this.words.subarray(0, end);
  }

  private grow(word: number): void {
    let length = Math.max(64, this.words.length);
    while (length <= word) length *= 2;
    const grown = new Uint32Array(length);
    grown.set(this.words);
    this.words = grown;
  }
}

function checkId(id: number): void {
  // ids past 2^32 would need another layout; SQLite hands them out one by one from 1
  if (!Number.isInteger(id) || id < 0 || id >= 2 ** 32) throw new RangeError(`item id ${id} is outside 0..2^32-1`);
}

function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
