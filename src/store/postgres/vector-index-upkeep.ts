/**
 * pgvector's advice for bulk loads, followed by a writer on its own: inserting vectors into an
 * HNSW index one commit at a time costs several times what building the index once costs
 * (PGlite, 3,008 512-d vectors in commits of 64: 136 s into the index, against 5 s loaded without
 * it and 34 s to build it). A writer into an empty index drops the HNSW index in its first commit;
 * into one that held vectors, once its commits have added as many as the index held when it
 * started (and at least BULK_LOAD_MIN_VECTORS), it drops the index in that commit;
 * `flush` (the end of an indexing run) or `close` builds it again. Until then searches are
 * answered by scanning every vector: slower, never wrong. An index that held
 * KEEP_INDEX_FROM_VECTORS or more keeps it: servers answering from an established index keep
 * their graph while it grows, since a scan of millions per query would load the database far
 * more than the inserts do. A writer killed in between leaves the
 * index without it: the next writer finds it missing and builds it at its own flush or close
 * (as `rsclip doctor --repair` does).
 *
 * The doubling rule bounds the cost without knowing how many vectors a run brings: a run that
 * adds a few to an index keeps it (no rebuild of everything for a few new vectors). A first run
 * loses nothing by dropping at once (there is nothing to rebuild); it had kept the index for its
 * first thousand vectors, which then took about 1 ms each to insert on a server (512-d): 0.9 s of
 * a 5,120-vector load whose other 65 commits took about 0.5 s.
 */
import type { Queryable } from './database.js';
import { vectorIndexName } from './schema.js';
import { buildVectorIndex, type VectorIndexSpec } from './vector-index-build.js';

const BULK_LOAD_MIN_VECTORS = 1000;
/** A scan of this many 512-d vectors takes tens of milliseconds on a server; beyond it the index stays. */
const KEEP_INDEX_FROM_VECTORS = 100_000;

export class VectorIndexUpkeep {
  /** Vectors in the index when this writer's first commit began (undefined until then, and again after a build). */
  private atStart: number | undefined;
  private added = 0;
  /** Why the HNSW index is missing, when it is: flush and close build it. */
  private missing: 'dropped for a bulk load' | 'found missing' | undefined;

  private readonly indexName: string;

  constructor(private readonly spec: VectorIndexSpec) {
    this.indexName = vectorIndexName(spec.schema);
  }

  get deferred(): boolean {
    return this.missing !== undefined;
  }

  /** The index is missing because this writer dropped it for a bulk load: building it is no repair. */
  get droppedForBulkLoad(): boolean {
    return this.missing === 'dropped for a bulk load';
  }

  /** In a commit's transaction, before it applies changes that write `vectors` vectors. */
  async beforeCommit(db: Queryable, vectors: number): Promise<void> {
    if (this.missing) return;
    if (this.atStart === undefined) {
      const { rows } = await db.query<{ vectors: string | null; indexed: boolean }>("SELECT (SELECT value FROM totals WHERE name = 'vectors') AS vectors, to_regclass($1) IS NOT NULL AS indexed", [this.indexName]);
      this.atStart = Number(rows[0]!.vectors ?? 0);
      if (!rows[0]!.indexed) {
        this.missing = 'found missing';
        return;
      }
    }
    this.added += vectors;
    const bulk = this.atStart === 0 || this.added >= Math.max(BULK_LOAD_MIN_VECTORS, this.atStart);
    if (this.atStart < KEEP_INDEX_FROM_VECTORS && bulk) {
      await db.query(`DROP INDEX IF EXISTS ${this.indexName}`);
      this.missing = 'dropped for a bulk load';
    }
  }

  /** Builds the index if it is missing (a catalog lookup when it exists); later commits count afresh. */
  async build(db: Queryable): Promise<void> {
    await buildVectorIndex(db, this.spec);
    this.missing = undefined;
    this.atStart = undefined;
    this.added = 0;
  }
}
