/**
 * Approximate nearest neighbours with usearch (cosine of unit vectors, label = item id), vectors stored at the
 * index's quantisation (f32, f16 or i8). Build parameters (M = connectivity, efConstruction =
 * expansion_add) are fixed at creation; `ef` is per search, as for hnswlib.
 *
 * usearch has no per-search expansion and no filter callback (usearch-native.ts), so:
 * - `ef`: the index is built with expansion_search 1 and asked for max(ef, k) neighbours, which
 *   is a beam of exactly that width (usearch widens the beam to k), then cut to k;
 * - filters: the beam is widened (x4 at a time) until k accepted neighbours are found or the
 *   whole index has been searched.
 * It cannot list its keys either, so the live ids are kept here (a bitset) and saved with the
 * file (usearch-file.ts).
 *
 * A saved file can be served memory-mapped (`view`): nothing is read until a search touches
 * it, so a reader starts at once whatever the index size. A mapped file is immutable; changes
 * made after opening go to a small in-memory overlay index, and the mapped ids they replace
 * or delete are hidden from its results.
 */
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { bestFirst, checkLength, checkVector, unitVector, vectorProblem, type ScoredId } from '../vector-math.js';
import { DEFAULT_EF, GraphWriteError, SAME_VECTOR_TOLERANCE, graphFileCorrupt, rebuiltFromCatalogHint, syncFile, type GraphFileDigest, type GraphIndex, type LoadGraphOptions, type UsearchParams } from './graph-index.js';
import { IdBitset } from './id-bitset.js';
import { writeInt8 } from './int8-vectors.js';
import { checkSearchArgs } from './argument-checks.js';
import { appendTrailer, readUsearchFile, usearchReloadsSafely, type VectorQuantization } from './usearch-file.js';
import { newNativeUsearch, usearchMetricFor, type NativeUsearch, type UsearchMetric } from './usearch-native.js';

/** `stores` looks this far for an id among the neighbours of its own vector (duplicates tie with it). */
const STORES_MAX_BEAM = 4096;

type Native = NativeUsearch;

/**
 * Inserting on several threads into a small graph leaves nodes no search reaches (measured: 1 of
 * 380 vectors in some builds, unfound even by a beam as wide as the index; 7 of 10,000 clustered
 * vectors unfound at the default ef against 0-1 serially). So a graph's first nodes are inserted
 * serially, and batches go to every core only once it is large, where they make bulk builds fast.
 */
const PARALLEL_ADD_MIN_NODES = 10_000;
const PARALLEL_ADD_MIN_BATCH = 64;
const parallelAdds = (nodes: number, batch: number): boolean => nodes >= PARALLEL_ADD_MIN_NODES && batch >= PARALLEL_ADD_MIN_BATCH;

function nativeIndex(dim: number, params: UsearchParams, metric: UsearchMetric): Native {
  return newNativeUsearch(dim, params.quantization, metric, params.M, params.efConstruction);
}

/**
 * Vectors as usearch is given them: unit float32 for f32 and f16 (usearch rounds to f16 itself),
 * and for i8 our own int8 (int8-vectors.ts).
 */
function prepared(vectors: readonly Float32Array[], dim: number, quantization: VectorQuantization): Float32Array | Int8Array {
  const out = quantization === 'i8' ? new Int8Array(vectors.length * dim) : new Float32Array(vectors.length * dim);
  vectors.forEach((vector, i) => {
    const unit = unitVector(vector);
    if (out instanceof Float32Array) out.set(unit, i * dim);
    else writeInt8(unit, out, i * dim);
  });
  return out;
}

/**
 * The best `k` neighbours `accept` allows, searched with a beam of at least `ef`, widened until
 * enough are accepted or the beam covers the index (or `maxBeam`). Accepted neighbours as far as
 * the k-th come too: usearch orders neighbours of equal distance as it meets them, and the
 * caller's cut by id (compareBestFirst) must see them all, or a shorter k would not give a prefix
 * of a longer one and pages would repeat one hit and skip another.
 */
function searchAccepted(native: Native, query: Float32Array | Int8Array, k: number, ef: number, accept?: (id: number) => boolean, maxBeam = Infinity): ScoredId[] {
  const total = native.size();
  if (total === 0 || k <= 0) return [];
  let beam = Math.min(Math.max(ef, k), total);
  for (;;) {
    const [keys, distances, counts] = native.search(query, beam, 1);
    const found = Number(counts[0]);
    const out: ScoredId[] = [];
    let kth = NaN;
    let i = 0;
    for (; i < found; i++) {
      if (out.length >= k && distances[i] !== kth) break;
      const id = Number(keys[i]);
      if (accept && !accept(id)) continue;
      // f16 rounding can put the inner product of a vector with itself a little past 1
      out.push({ id, score: Math.max(-1, Math.min(1, 1 - distances[i]!)) });
      if (out.length === k) kth = distances[i]!;
    }
    // ties of the k-th that run to the end of the beam may go on past it: widen it, as for too few accepted
    const tiesRunOn = out.length > k && i === found;
    if ((out.length >= k && !tiesRunOn) || beam >= total || beam >= maxBeam) return out;
    beam = Math.min(total, beam * 4);
  }
}

export class UsearchIndex implements GraphIndex {
  readonly dim: number;
  readonly scorePrecision: VectorQuantization;
  private readonly params: UsearchParams;
  /** Live ids, mapped and in memory. */
  private readonly live: IdBitset;
  /** The writable index; for a mapped file, the overlay of changes since it was opened (created on the first one). */
  private native: Native | undefined;
  /** Slots of removed keys in `native`, which usearch reuses for the next keys added. */
  private freeSlots: number;
  /** The mapped file: its index, its own dead nodes, and its ids removed or replaced since it was opened. */
  private readonly mapped: { native: Native; file: string; deleted: number; hidden: IdBitset } | undefined;

  private constructor(
    dim: number,
    params: UsearchParams,
    /** A loaded index's: its file's (an older f16 file has the inner product); a new one's: usearchMetricFor. */
    private readonly metric: UsearchMetric,
    live: IdBitset,
    native: Native | undefined,
    freeSlots: number,
    mapped?: UsearchIndex['mapped'],
  ) {
    this.dim = dim;
    this.scorePrecision = params.quantization;
    this.params = params;
    this.live = live;
    this.native = native;
    this.freeSlots = freeSlots;
    this.mapped = mapped;
  }

  static create(dim: number, params: UsearchParams): UsearchIndex {
    const metric = usearchMetricFor(params.quantization);
    return new UsearchIndex(dim, params, metric, new IdBitset(), nativeIndex(dim, params, metric), 0);
  }

  /**
   * Opens a saved index: loaded into memory (writable), or `mapped` (served from the file, which
   * must not change while it is open: the embedded store replaces it by renaming, which keeps
   * the mapped inode). The file's structure is checked first and `accept` judges its size and
   * sha256 (it returns why the file is refused, or undefined).
   */
  static load(file: string, dim: number, params: UsearchParams, options: LoadGraphOptions = {}): UsearchIndex {
    const facts = readUsearchFile(file, dim, params.quantization, options);
    const refusal = options.accept?.({ bytes: facts.bytes, sha256: facts.sha256, identity: facts.identity });
    if (refusal !== undefined) throw graphFileCorrupt(file, refusal);
    if (!usearchReloadsSafely(facts.live.size, facts.deleted)) {
      throw new RsclipError('INDEX_CORRUPT', `usearch file ${file} has ${facts.deleted} removed nodes beside ${facts.live.size} vectors, more than usearch can load without overrunning its memory`, {
        hint: `it is rebuilt from catalog.sqlite (\`rsclip doctor --index ${path.dirname(file)}\` saves the rebuilt graph)`,
      });
    }
    const native = nativeIndex(dim, params, facts.metric);
    try {
      if (options.mapped) native.view(file);
      else native.load(file);
    } catch (cause) {
      throw new RsclipError('INDEX_CORRUPT', `cannot read usearch file ${file}: ${(cause as Error).message}`, { hint: rebuiltFromCatalogHint(file), cause });
    }
    if (native.size() !== facts.live.size) throw new RsclipError('INDEX_CORRUPT', `usearch file ${file} holds ${native.size()} vectors, its trailer lists ${facts.live.size}`, { hint: rebuiltFromCatalogHint(file) });
    if (!options.mapped) return new UsearchIndex(dim, params, facts.metric, facts.live, native, facts.deleted);
    return new UsearchIndex(dim, params, facts.metric, facts.live, undefined, 0, { native, file, deleted: facts.deleted, hidden: new IdBitset() });
  }

  get size(): number {
    return this.live.size;
  }

  get outdated(): string | undefined {
    if (this.metric === usearchMetricFor(this.params.quantization)) return undefined;
    return 'HNSW file of f16 vectors under the inner product (an older rsclip), which leaves near-identical vectors unreachable';
  }

  /** Nodes of removed or replaced vectors. */
  private get deleted(): number {
    return this.freeSlots + (this.mapped ? this.mapped.deleted + this.mapped.hidden.size : 0);
  }

  get storedCount(): number {
    return this.live.size + this.deleted;
  }

  details(): Record<string, number> {
    return {
      size: this.live.size,
      deleted: this.deleted,
      capacity: (this.mapped?.native.capacity() ?? 0) + (this.native?.capacity() ?? 0),
      ...(this.mapped ? { mapped: this.mapped.native.size(), overlay: this.native?.size() ?? 0 } : {}),
    };
  }

  has(id: number): boolean {
    return this.live.has(id);
  }

  ids(): number[] {
    return this.live.ids();
  }

  add(id: number, vector: Float32Array): void {
    this.addMany([[id, vector]]);
  }

  /** Adds (or replaces) many vectors in one call, which usearch spreads over every core once the graph is large enough. */
  addMany(entries: Iterable<readonly [number, Float32Array]>): void {
    const batch = [...entries];
    if (batch.length === 0) return;
    for (const [, vector] of batch) checkLength(vector, this.dim, 'INDEX_INCOMPATIBLE');
    const native = this.writable();
    const keys = new BigUint64Array(batch.length);
    const seen = new Set<number>();
    batch.forEach(([id], i) => {
      if (seen.has(id)) throw new RsclipError('INDEX_INCOMPATIBLE', `item ${id} appears twice in one batch of vectors`);
      seen.add(id);
      this.removeStored(id);
      keys[i] = BigInt(id);
    });
    const vectors = prepared(batch.map(([, vector]) => vector), this.dim, this.params.quantization);
    // threads 0 (every core) in every call: usearch reserves per-thread contexts with the count of
    // the call that grows the capacity, and a later call with more threads than that fails; one
    // key per call runs on the calling thread alone
    if (parallelAdds(native.size(), batch.length)) native.add(keys, vectors, 0);
    else for (let i = 0; i < batch.length; i++) native.add(keys.subarray(i, i + 1), vectors.subarray(i * this.dim, (i + 1) * this.dim), 0);
    for (const [id] of batch) this.live.add(id);
    this.freeSlots = Math.max(0, this.freeSlots - batch.length);
  }

  markDeleted(id: number): void {
    if (!this.live.has(id)) return;
    this.removeStored(id);
    this.live.delete(id);
  }

  /** Drops the stored vector of `id` wherever it is (a mapped one is hidden). */
  private removeStored(id: number): void {
    if (!this.live.has(id)) return;
    const key = BigUint64Array.of(BigInt(id));
    if (this.native && this.native.contains(key)[0]) {
      this.native.remove(key);
      this.freeSlots++;
    } else if (this.mapped) {
      this.mapped.hidden.add(id);
    }
  }

  private writable(): Native {
    this.native ??= nativeIndex(this.dim, this.params, this.metric);
    return this.native;
  }

  /** Whether `id` is live with this vector, within the quantisation's precision. */
  stores(id: number, vector: Float32Array): boolean {
    if (!this.live.has(id)) return false;
    checkLength(vector, this.dim, 'INDEX_INCOMPATIBLE');
    // no graph holds a vector no search can ask for (all zeros): asking would be refused as a bad query
    if (vectorProblem(vector) !== undefined) return false;
    const best = this.searchBestFirst(vector, 1, { ef: DEFAULT_EF, filter: (other) => other === id }, STORES_MAX_BEAM)[0];
    return best !== undefined && best.score >= 1 - SAME_VECTOR_TOLERANCE[this.params.quantization];
  }

  searchBestFirst(query: Float32Array, k: number, options: { ef?: number; filter?: (id: number) => boolean } = {}, maxBeam = Infinity): ScoredId[] {
    checkVector(query, this.dim, 'BAD_QUERY');
    // a NaN or fractional count aborts the process inside usearch's addon: refused here, before the native call
    checkSearchArgs(k, options.ef);
    const wanted = Math.min(k, this.live.size);
    if (wanted <= 0) return [];
    const unit = prepared([query], this.dim, this.params.quantization);
    const ef = options.ef ?? DEFAULT_EF;
    const filter = options.filter;
    // the overlay's hits and the mapped file's, joined without spreading (a call takes at most ~125,000 arguments)
    let results: ScoredId[] = this.native ? searchAccepted(this.native, unit, wanted, ef, filter, maxBeam) : [];
    if (this.mapped) {
      const { hidden } = this.mapped;
      const accept = hidden.size === 0 ? filter : (id: number) => !hidden.has(id) && (!filter || filter(id));
      results = results.concat(searchAccepted(this.mapped.native, unit, wanted, ef, accept, maxBeam));
    }
    return bestFirst(results, wanted);
  }

  /** Writes the index to `file`, flushes it and checks what is on the disk (usearch reports no short write); returns its size and sha256. */
  async save(file: string): Promise<GraphFileDigest> {
    if (this.mapped) {
      throw new RsclipError('INDEX_READ_ONLY', `the graph mapped from ${this.mapped.file} is read-only`, { hint: 'open the index writable to save its graph' });
    }
    this.writable().save(file);
    appendTrailer(file, this.live);
    await syncFile(file);
    try {
      const { bytes, sha256, identity } = readUsearchFile(file, this.dim, this.params.quantization);
      return { bytes, sha256, identity };
    } catch (cause) {
      throw new GraphWriteError(`the file written is incomplete or damaged: ${(cause as Error).message}`, { cause });
    }
  }
}
