/**
 * The ivf engine: an inverted file. Vectors are kept as int8 (int8-vectors.ts) in lists, one per
 * k-means centroid (kmeans.ts); a search ranks the centroids by cosine to the query and scans
 * the vectors of the best lists, all in a native SIMD kernel (int8-cosines.ts). A graph walk (hnswlib, usearch)
 * follows links between image neighbours, which guide a text query poorly: text embeddings sit
 * apart from the images (the modality gap) and their best images lie in a narrow band of scores
 * that a walk misses. Scanning whole lists does not depend on where a walk starts. Measured on
 * 1M CLIP-like vectors: README "Engines and scale".
 *
 * - Lists: none until the index first holds TRAIN_MIN vectors (one list, scanned whole: an exact
 *   search); then round(4 sqrt(n)) lists, trained again from a sample each time the index has
 *   doubled since (every vector is then assigned again).
 * - `ef`: a search scans lists, best centroid first, until it has scanned ef x SCAN_PER_EF
 *   vectors per million items (per index below a million; at least one list); a filter that
 *   leaves too few scans further, up to every list.
 * - Scores are int8 cosines (scorePrecision i8): the store re-ranks them on its own vectors.
 * - A reader (opened `mapped`) of a file whose sha256 is known reads its centroids and ids, not its vectors: a list's
 *   vectors are read when a search or a change first needs them, and all of them in the
 *   background meanwhile (at 10^7 items the file is 5 GB: an index answers in about a second
 *   instead of after reading it all).
 */
import { RsclipError } from '../errors.js';
import { checkLength, checkVector, TopK, unitVector, type ScoredId } from '../vector-math.js';
import { checkSearchArgs } from './argument-checks.js';
import { DEFAULT_EF, GraphWriteError, SAME_VECTOR_TOLERANCE, graphFileCorrupt, syncFile, type GraphFileDigest, type GraphIndex, type LoadGraphOptions } from './graph-index.js';
import { cosineInt8, toInt8, writeInt8 } from './int8-vectors.js';
import { readIvfFile, writeIvfFile, type IvfList, type UnreadListVectors } from './ivf-file.js';
import { seededRandom } from '../eval/random.js';
import { CentroidFinder, centroidsInt8, trainCentroids } from './kmeans.js';
import { scoreRows } from './int8-cosines.js';

/** Below this many vectors one list is scanned whole (about 0.25 ms at 512 dimensions). */
export const TRAIN_MIN = 10_000;
/**
 * Vectors scanned per unit of `ef` and million items: the text breadth (512) scans 0.8 % of an
 * index of 10^6 or more, the image breadth (256) half that. The best images of a text query lie
 * in a share of the lists, not in a number of them: at 10^7 CLIP-like vectors the same 8,192
 * vectors that found 0.986 of a text query's top 10 at 10^6 found 0.60 (README "The ivf engine").
 */
const SCAN_PER_EF = 16;
const SCAN_SCALE_ITEMS = 1_000_000;
/** Rows scored in one call at most (unless one list holds more), so that the scores' buffer stays small (512 KB) whatever a filter makes a search scan. */
const BATCH_ROWS = 65_536;

/** The vectors a search of breadth `ef` scans in an index of `size` (before a filter widens it). */
export function vectorsToScan(ef: number, size: number): number {
  return ef * SCAN_PER_EF * Math.max(1, size / SCAN_SCALE_ITEMS);
}
/** k-means trains on at most this many vectors per list (a sample, as FAISS does). */
const SAMPLE_PER_LIST = 64;
const TRAINING_SEED = 0x1f5eed;
/** The largest item id a list can hold (ids are stored as u32). */
const MAX_ID = 0xffff_ffff;

/** Lists for an index of `size` vectors: about 250 vectors each at 10^6 (2 sqrt(n), 500 each, gave lower text recall for the same vectors scanned: README "Engines and scale"). */
export function listCountFor(size: number): number {
  return Math.max(1, Math.round(4 * Math.sqrt(size)));
}

/** A search's scores of the centroids and of the rows it scans. */
interface ScanScores {
  centroids: Float64Array;
  rows: Float64Array;
}

function emptyScanScores(): ScanScores {
  return { centroids: new Float64Array(0), rows: new Float64Array(0) };
}

function emptyList(dim: number, capacity = 16): IvfList {
  return { ids: new Uint32Array(capacity), vectors: new Int8Array(capacity * dim), count: 0 };
}

/** The lists whose vectors are still in the file, and the background read of them. */
interface UnreadLists {
  vectors: UnreadListVectors;
  /** Per list: 1 while its vectors are unread. */
  pending: Uint8Array;
  left: number;
  /** Why the background read stopped (the file is then closed; unread lists cannot be searched). */
  failure?: unknown;
  /** Settles when the background read ends, whether it read every list or failed. */
  done: Promise<void>;
}

export class IvfIndex implements GraphIndex {
  readonly dim: number;
  readonly scorePrecision = 'i8' as const;
  private centroids: Float32Array;
  private centroids8: Int8Array;
  /** Made on first use (a reader may never add a vector). */
  private finder: CentroidFinder | undefined;
  private trainedSize: number;
  private lists: IvfList[];
  /** Per item id: its list + 1 (0: not stored). */
  private listOf = new Uint32Array(1024);
  private live = 0;
  /**
   * Whether growth trains the lists again. A reader (an index opened `mapped`) adds what writers
   * committed to the nearest lists and waits for the writer's next checkpoint instead: training
   * at 10^6 vectors takes tens of seconds, which would stall a server's searches.
   */
  private trainsOnGrowth = true;
  private unread: UnreadLists | undefined;
  /** The score buffers a search takes and gives back (kept between searches; one from inside another's filter makes its own). */
  private spareScores: ScanScores | undefined = emptyScanScores();

  private constructor(dim: number, centroids: Float32Array, trainedSize: number, lists: IvfList[]) {
    this.dim = dim;
    this.centroids = centroids;
    this.centroids8 = centroidsInt8(centroids, dim);
    this.trainedSize = trainedSize;
    this.lists = lists;
    let largest = -1;
    for (const list of lists) for (let r = 0; r < list.count; r++) largest = Math.max(largest, list.ids[r]!);
    const listOf = (this.listOf = new Uint32Array(Math.max(largest + 1, this.listOf.length)));
    // placed in one loop, not through place(): 10^7 ids took 0.4 s of an open that way
    lists.forEach((list, l) => {
      for (let r = 0; r < list.count; r++) {
        const id = list.ids[r]!;
        if (listOf[id] === 0) this.live++;
        listOf[id] = l + 1;
      }
    });
  }

  static create(dim: number): IvfIndex {
    return new IvfIndex(dim, new Float32Array(0), 0, [emptyList(dim)]);
  }

  /**
   * Opens a saved index (`mapped` marks a reader's, see trainsOnGrowth); a damaged or refused file
   * is INDEX_CORRUPT. A reader's file with a `knownSha256` (see readIvfFile) is read without its
   * vectors, which follow (see the head of this file); otherwise it is read whole, and hashed
   * unless its sha256 is known.
   */
  static load(file: string, dim: number, options: LoadGraphOptions = {}): IvfIndex {
    // a writer reads every vector at once: a file failing under it later would fail its commits
    const { content, facts, unread } = readIvfFile(file, dim, options.knownSha256, { deferVectors: options.mapped === true });
    let index: IvfIndex;
    try {
      const refusal = options.accept?.(facts);
      if (refusal !== undefined) throw graphFileCorrupt(file, refusal, undefined, 'ivf');
      index = new IvfIndex(dim, content.centroids, content.trainedSize, content.lists);
      const stored = content.lists.reduce((sum, list) => sum + list.count, 0);
      if (index.live !== stored) throw graphFileCorrupt(file, `${stored - index.live} item ids appear in more than one place`, undefined, 'ivf');
    } catch (error) {
      unread?.close();
      throw error;
    }
    index.trainsOnGrowth = options.mapped !== true;
    if (unread) index.readInBackground(unread);
    return index;
  }

  /** Why searches of lists not read yet fail: the file could not be read after the open (a reader then opens the file again). */
  get damage(): string | undefined {
    const failure = this.unread?.failure;
    return failure instanceof RsclipError && failure.code === 'INDEX_CORRUPT' ? failure.message : undefined;
  }

  /** Stops reading the file and closes it (the store is closing, or a newer file replaced this one): lists not read yet cannot be searched. */
  release(): void {
    const unread = this.unread;
    if (!unread || unread.failure !== undefined) return;
    unread.failure = new RsclipError('INDEX_CLOSED', 'the ivf index was let go before its vectors were all read');
    unread.vectors.close();
  }

  /** Resolves once every list's vectors are in memory (at once for an index read whole); rejects if the file could not be read. */
  async whenRead(): Promise<void> {
    const unread = this.unread;
    if (!unread) return;
    await unread.done;
    if (unread.failure !== undefined) throw unread.failure;
  }

  get size(): number {
    return this.live;
  }

  /** Removed vectors leave nothing behind. */
  get storedCount(): number {
    return this.live;
  }

  details(): Record<string, number> {
    let largest = 0;
    for (const list of this.lists) largest = Math.max(largest, list.count);
    return { size: this.live, deleted: 0, lists: this.centroids.length / this.dim, trainedSize: this.trainedSize, largestList: largest };
  }

  has(id: number): boolean {
    return id < this.listOf.length && this.listOf[id]! > 0;
  }

  ids(): number[] {
    const out: number[] = [];
    for (let id = 0; id < this.listOf.length; id++) if (this.listOf[id]! > 0) out.push(id);
    return out;
  }

  add(id: number, vector: Float32Array): void {
    this.addMany([[id, vector]]);
  }

  addMany(entries: Iterable<readonly [number, Float32Array]>): void {
    const batch = [...entries];
    if (batch.length === 0) return;
    const seen = new Set<number>();
    for (const [id, vector] of batch) {
      checkLength(vector, this.dim, 'INDEX_INCOMPATIBLE');
      if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new RsclipError('INDEX_INCOMPATIBLE', `item id ${id} is outside what an ivf list holds (0 to ${MAX_ID})`);
      if (seen.has(id)) throw new RsclipError('INDEX_INCOMPATIBLE', `item ${id} appears twice in one batch of vectors`);
      seen.add(id);
    }
    const rows = new Int8Array(batch.length * this.dim);
    batch.forEach(([id, vector], i) => {
      this.remove(id);
      writeInt8(unitVector(vector), rows, i * this.dim);
    });
    const targets = this.lists.length === 1 ? new Uint32Array(batch.length) : this.centroidFinder().nearest(rows);
    batch.forEach(([id], i) => this.append(targets[i]!, id, rows.subarray(i * this.dim, (i + 1) * this.dim)));
    if (this.trainsOnGrowth && this.live >= TRAIN_MIN && this.live >= 2 * this.trainedSize) this.train();
  }

  markDeleted(id: number): void {
    this.remove(id);
  }

  stores(id: number, vector: Float32Array): boolean {
    checkLength(vector, this.dim, 'INDEX_INCOMPATIBLE');
    const at = this.locate(id);
    if (!at) return false;
    return cosineInt8(at.list.vectors, at.row * this.dim, vector) >= 1 - SAME_VECTOR_TOLERANCE.i8;
  }

  searchBestFirst(query: Float32Array, k: number, options: { ef?: number; filter?: (id: number) => boolean } = {}): ScoredId[] {
    checkVector(query, this.dim, 'BAD_QUERY');
    checkSearchArgs(k, options.ef);
    const wanted = Math.min(k, this.live);
    if (wanted <= 0) return [];
    const buffers = this.spareScores ?? emptyScanScores();
    this.spareScores = undefined;
    try {
      return this.scan(toInt8(unitVector(query)), wanted, vectorsToScan(options.ef ?? DEFAULT_EF, this.live), options.filter, buffers);
    } finally {
      this.spareScores = buffers;
    }
  }

  /** The best `wanted` rows of the lists nearest the query, at least `budget` rows scanned (more while a filter accepts too few). */
  private scan(query8: Int8Array, wanted: number, budget: number, filter: ((id: number) => boolean) | undefined, buffers: ScanScores): ScoredId[] {
    const lists = this.lists.length;
    const centroidScores = this.scoreCentroids(query8, buffers);
    // the lists the budget is likely to need, best first; all of them only if a filter asks for more
    let order = this.bestLists(centroidScores, Math.min(lists, 2 * Math.ceil((budget * lists) / this.live) + 4));
    const top = new TopK(wanted);
    let accepted = 0;
    let scanned = 0;
    for (let next = 0; next < lists; ) {
      if (next === order.length) order = this.bestLists(centroidScores, lists);
      // the lists up to the budget, scored in one call (a filter's wider scans in several)
      const batch: IvfList[] = [];
      for (let rows = scanned; next < order.length && (batch.length === 0 || rows < budget); next++) {
        const list = this.listRead(order[next]!);
        if (batch.length > 0 && rows - scanned + list.count > BATCH_ROWS) break;
        batch.push(list);
        rows += list.count;
      }
      const scores = this.scoreLists(batch, query8, buffers);
      let at = 0;
      for (const list of batch) {
        for (let r = 0; r < list.count; r++) {
          const id = list.ids[r]!;
          const score = scores[at + r]!;
          if (filter && !filter(id)) continue;
          accepted++;
          top.offer(id, score);
        }
        at += list.count;
        scanned += list.count;
      }
      if (scanned >= budget) {
        if (accepted >= wanted) break;
        // too few accepted: scan four times as many
        budget *= 4;
      }
    }
    return top.bestFirst();
  }

  async save(file: string): Promise<GraphFileDigest> {
    this.readAll();
    let written: { bytes: number; sha256: string };
    try {
      written = writeIvfFile(file, { dim: this.dim, centroids: this.centroids, trainedSize: this.trainedSize, lists: this.lists });
      await syncFile(file);
    } catch (cause) {
      throw new GraphWriteError(`the ivf file could not be written: ${(cause as Error).message}`, { cause });
    }
    try {
      const { facts } = readIvfFile(file, this.dim);
      if (facts.sha256 !== written.sha256) throw new Error('what is on the disk differs from what was written');
      return facts;
    } catch (cause) {
      throw new GraphWriteError(`the file written is incomplete or damaged: ${(cause as Error).message}`, { cause });
    }
  }

  /** The int8 cosine of the query with every row of `lists`, list after list (the native kernel, int8-cosines.ts). */
  private scoreLists(lists: IvfList[], query8: Int8Array, buffers: ScanScores): Float64Array {
    const rows = Uint32Array.from(lists, (list) => list.count);
    const total = rows.reduce((sum, count) => sum + count, 0);
    if (buffers.rows.length < total) buffers.rows = new Float64Array(Math.max(total, 2 * buffers.rows.length));
    scoreRows(lists.map((list) => list.vectors), rows, query8, buffers.rows);
    return buffers.rows;
  }

  /** The query's cosine with each centroid (none while the index is one list). */
  private scoreCentroids(query8: Int8Array, buffers: ScanScores): Float64Array {
    const count = this.centroids8.length / this.dim;
    if (buffers.centroids.length !== count) buffers.centroids = new Float64Array(count);
    if (count > 0) scoreRows([this.centroids8], Uint32Array.of(count), query8, buffers.centroids);
    return buffers.centroids;
  }

  /** The numbers of the `count` lists whose centroids score highest, best first (ties: the lower number). */
  private bestLists(centroidScores: Float64Array, count: number): number[] {
    if (this.lists.length === 1) return [0];
    const top = new TopK(count);
    for (let l = 0; l < centroidScores.length; l++) top.offer(l, centroidScores[l]!);
    return top.bestFirst().map((hit) => hit.id);
  }

  private place(id: number, list: number): void {
    if (id >= this.listOf.length) {
      const grown = new Uint32Array(Math.max(id + 1, this.listOf.length * 2));
      grown.set(this.listOf);
      this.listOf = grown;
    }
    if (this.listOf[id] === 0) this.live++;
    this.listOf[id] = list + 1;
  }

  private append(l: number, id: number, row: Int8Array): void {
    let list = this.listRead(l);
    if (list.count === list.ids.length) {
      const grown = emptyList(this.dim, Math.max(16, list.ids.length * 2));
      grown.ids.set(list.ids);
      grown.vectors.set(list.vectors);
      grown.count = list.count;
      this.lists[l] = list = grown;
    }
    list.ids[list.count] = id;
    list.vectors.set(row, list.count * this.dim);
    list.count++;
    this.place(id, l);
  }

  private locate(id: number): { list: IvfList; row: number } | undefined {
    if (!this.has(id)) return undefined;
    const list = this.listRead(this.listOf[id]! - 1);
    const row = list.ids.subarray(0, list.count).indexOf(id);
    return row < 0 ? undefined : { list, row };
  }

  /** Drops `id`'s vector: the list's last row takes its place. */
  private remove(id: number): void {
    const at = this.locate(id);
    if (!at) return;
    const { list, row } = at;
    const last = list.count - 1;
    if (row !== last) {
      list.ids[row] = list.ids[last]!;
      list.vectors.copyWithin(row * this.dim, last * this.dim, (last + 1) * this.dim);
    }
    list.count--;
    this.listOf[id] = 0;
    this.live--;
  }

  /** List `l`, its vectors read from the file first if they are not yet. */
  private listRead(l: number): IvfList {
    const unread = this.unread;
    if (unread?.pending[l]) {
      if (unread.failure !== undefined) throw unread.failure;
      let vectors: Int8Array;
      try {
        vectors = unread.vectors.readSync(l);
      } catch (failure) {
        unread.failure = failure;
        unread.vectors.close();
        throw failure;
      }
      this.settle(unread, l, vectors);
    }
    return this.lists[l]!;
  }

  private readAll(): void {
    for (let l = 0; this.unread && l < this.lists.length; l++) this.listRead(l);
  }

  private settle(unread: UnreadLists, l: number, vectors: Int8Array): void {
    this.lists[l]!.vectors = vectors;
    unread.pending[l] = 0;
    if (--unread.left > 0) return;
    unread.vectors.close();
    this.unread = undefined;
  }

  /** Reads the lists not yet read, one at a time, off the event loop, until all are or the index has read them itself. */
  private readInBackground(vectors: UnreadListVectors): void {
    const pending = Uint8Array.from(this.lists, (list) => (list.count > 0 ? 1 : 0));
    const left = pending.reduce((sum, p) => sum + p, 0);
    if (left === 0) {
      vectors.close();
      return;
    }
    const unread: UnreadLists = { vectors, pending, left, done: Promise.resolve() };
    this.unread = unread;
    unread.done = (async () => {
      for (let l = 0; l < pending.length && this.unread === unread && unread.failure === undefined; l++) {
        if (!pending[l]) continue;
        let read: Int8Array;
        try {
          read = await vectors.read(l);
        } catch (failure) {
          // the first failure stands (a release closes the file under the read in flight)
          unread.failure ??= failure;
          vectors.close();
          return;
        }
        // a search or a change may have read it meanwhile (and changed it since)
        if (this.unread === unread && pending[l]) this.settle(unread, l, read);
      }
    })();
  }

  private centroidFinder(): CentroidFinder {
    return (this.finder ??= new CentroidFinder(this.centroids8, this.dim));
  }

  /**
   * k-means on a sample of the vectors, then every vector to the list of its nearest centroid,
   * one old list at a time (at 10^7 vectors a copy of them all would be past the 4 GiB a typed
   * array holds, and a third copy of the vectors beside the old lists and the new).
   */
  private train(): void {
    this.readAll();
    const dim = this.dim;
    const lists = listCountFor(this.live);
    this.centroids = trainCentroids(this.sample(Math.min(this.live, lists * SAMPLE_PER_LIST)), dim, lists, TRAINING_SEED);
    this.centroids8 = centroidsInt8(this.centroids, dim);
    const finder = (this.finder = new CentroidFinder(this.centroids8, dim));
    this.trainedSize = this.live;
    const old = this.lists;
    const targets = old.map((list) => finder.nearest(list.vectors.subarray(0, list.count * dim)));
    const sizes = new Uint32Array(lists);
    for (const nearest of targets) for (const l of nearest) sizes[l]!++;
    this.lists = Array.from(sizes, (n) => emptyList(dim, Math.max(16, n)));
    this.live = 0;
    this.listOf.fill(0);
    old.forEach((list, l) => {
      for (let r = 0; r < list.count; r++) this.append(targets[l]![r]!, list.ids[r]!, list.vectors.subarray(r * dim, (r + 1) * dim));
      // let go as it goes, so that the garbage collector may free the old lists while the new ones fill
      old[l] = emptyList(dim, 0);
    });
  }

  /** `size` distinct stored vectors, picked at random (seeded by the index size), row after row. */
  private sample(size: number): Int8Array {
    const dim = this.dim;
    const firstRow = new Uint32Array(this.lists.length + 1);
    this.lists.forEach((list, l) => (firstRow[l + 1] = firstRow[l]! + list.count));
    const out = new Int8Array(size * dim);
    const random = seededRandom(TRAINING_SEED ^ this.live);
    const order = Uint32Array.from({ length: this.live }, (_, i) => i);
    for (let i = 0; i < size; i++) {
      const pick = i + Math.floor(random() * (this.live - i));
      [order[i], order[pick]] = [order[pick]!, order[i]!];
      // the list holding the picked row: the last whose first row is at or before it
      let low = 0;
      let high = this.lists.length - 1;
      while (low < high) {
        const middle = (low + high + 1) >> 1;
        if (firstRow[middle]! <= order[i]!) low = middle;
        else high = middle - 1;
      }
      const row = order[i]! - firstRow[low]!;
      out.set(this.lists[low]!.vectors.subarray(row * dim, (row + 1) * dim), i * dim);
    }
    return out;
  }
}
