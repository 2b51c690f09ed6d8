/**
 * The search composition root: an encoder and an index store come in through the
 * constructor (tests pass fakes); `search` turns a SearchRequest into one page of hits.
 */
import { performance } from 'node:perf_hooks';
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/index.js';
import { assertModelMatches, type IndexStore, type ItemSelection, type ScoredId } from '../store/index.js';
import { collapseNearDuplicates, type CollapsedGroup } from './collapse.js';
import { decodeCursor, encodeCursor, queryKey } from './cursor.js';
import { buildHit } from './hit.js';
import { chooseEf, DEFAULT_COLLAPSE_THRESHOLD, DEFAULT_K, MAX_K, MAX_TERMS, MAX_WINDOW } from './limits.js';
import { DEFAULT_NMS_THRESHOLD, suppressOverlaps, type PlacedHit } from './nms.js';
import { combineWeighted } from './query-vector.js';
import { TextEmbeddingBatcher, type TextBatcherOptions } from './text-batcher.js';
import type { QueryTerm, SearchHit, SearchPage, SearchRequest } from './types.js';

export interface SearcherOptions {
  batching?: TextBatcherOptions;
  /**
   * Most vectors an `exact` request may scan (default: no limit). A server sets it: an exact
   * scan runs on the event loop (about 130 ms per 100k 512-d vectors on a 2-core EPYC, and
   * the first one also loads every vector), so it would stall every other request.
   */
  maxExactScan?: number;
  /** Text embeddings kept for repeated queries and later pages of a query (default 256 entries; 0 turns it off). */
  textCacheSize?: number;
  /** Hits carry their file's absolute path (the CLI; a server must not reveal its folders). */
  absolutePaths?: boolean;
}

/** With collapsing, candidates are fetched in rounds of this many times the results wanted. */
const COLLAPSE_OVERFETCH = 3;

function checkInteger(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RsclipError('BAD_QUERY', `${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

export class Searcher {
  readonly encoder: ClipEncoder;
  readonly store: IndexStore;
  readonly textBatcher: TextEmbeddingBatcher;
  readonly #maxExactScan: number;
  readonly #textCacheSize: number;
  readonly #absolutePaths: boolean;
  /** Least recently used first (Map keeps insertion order). */
  readonly #textCache = new Map<string, Promise<Float32Array>>();

  constructor(encoder: ClipEncoder, store: IndexStore, options: SearcherOptions = {}) {
    assertModelMatches(store.meta, store.describe().location, encoder.info);
    this.encoder = encoder;
    this.store = store;
    this.textBatcher = new TextEmbeddingBatcher((texts) => encoder.embedTexts(texts), options.batching);
    this.#maxExactScan = options.maxExactScan ?? Infinity;
    this.#textCacheSize = options.textCacheSize ?? 256;
    this.#absolutePaths = options.absolutePaths ?? false;
  }

  /** The unit query vector of the terms: texts through the micro-batcher, images in one encoder call. */
  async queryVector(terms: QueryTerm[]): Promise<Float32Array> {
    if (terms.length === 0) throw new RsclipError('BAD_QUERY', 'empty query: expected at least one text, image or id term');
    if (terms.length > MAX_TERMS) throw new RsclipError('BAD_QUERY', `too many query terms: at most ${MAX_TERMS}, got ${terms.length}`);
    for (const term of terms) {
      if (!Number.isFinite(term.weight) || term.weight === 0) throw new RsclipError('BAD_QUERY', `term weights must be finite and non-zero, got ${term.weight}`);
      if (term.kind === 'text' && term.text.trim() === '') throw new RsclipError('BAD_QUERY', 'empty text term');
    }
    const images = terms.filter((t) => t.kind === 'image');
    const ids = terms.flatMap((t) => (t.kind === 'id' ? [t.id] : []));
    const [imageVectors, textVectors, stored] = await Promise.all([
      images.length > 0 ? this.encoder.embedImages(images.map((t) => t.image)) : [],
      Promise.all(terms.map((t) => (t.kind === 'text' ? this.#embedText(t.text) : undefined))),
      ids.length > 0 ? this.store.getVectors(ids) : new Map<number, Float32Array>(),
    ]);
    let nextImage = 0;
    const parts = terms.map((term, i) => {
      if (term.kind === 'text') return { vector: textVectors[i]!, weight: term.weight };
      if (term.kind === 'image') return { vector: imageVectors[nextImage++]!, weight: term.weight };
      const vector = stored.get(term.id);
      if (!vector) throw new RsclipError('NOT_FOUND', `no indexed image with id ${term.id}`, { hint: 'ids come from search results (#id)' });
      return { vector, weight: term.weight };
    });
    return combineWeighted(parts);
  }

  #embedText(text: string): Promise<Float32Array> {
    const cached = this.#textCache.get(text);
    if (cached) {
      this.#textCache.delete(text);
      this.#textCache.set(text, cached);
      return cached;
    }
    const pending = this.textBatcher.embed(text);
    if (this.#textCacheSize > 0) {
      this.#textCache.set(text, pending);
      // a failed embedding is not remembered
      pending.catch(() => this.#textCache.delete(text));
      if (this.#textCache.size > this.#textCacheSize) this.#textCache.delete(this.#textCache.keys().next().value!);
    }
    return pending;
  }

  async search(request: SearchRequest): Promise<SearchPage> {
    const k = request.k ?? DEFAULT_K;
    checkInteger('k', k, 1, MAX_K);
    checkInteger('offset', request.offset, 0, MAX_WINDOW);
    const key = queryKey(request);
    const offset = request.cursor !== undefined ? decodeCursor(request.cursor, key) : (request.offset ?? 0);
    if (offset + k > MAX_WINDOW) throw new RsclipError('BAD_QUERY', `offset + k must be at most ${MAX_WINDOW}, got ${offset + k}`, { hint: 'narrow the query with a filter' });
    const embedStart = performance.now();
    const vector = await this.queryVector(request.terms);
    const searchStart = performance.now();
    return await this.searchVector(vector, request, k, offset, key, { embedMs: searchStart - embedStart, searchStart });
  }

  /** Top results for an already-computed query vector (ranked, filtered, collapsed, paged). */
  private async searchVector(
    vector: Float32Array,
    request: SearchRequest,
    k: number,
    offset: number,
    key: string,
    clock: { embedMs: number; searchStart: number },
  ): Promise<SearchPage> {
    const exact = request.exact === true;
    const selection: ItemSelection = {};
    if (request.filter) selection.filter = request.filter;
    if (request.excludeIds && request.excludeIds.length > 0) selection.excludeIds = request.excludeIds;
    const filtered = request.filter ? await this.store.countItems(selection) : undefined;
    // one more than the page, so that we know whether a next page exists
    const wanted = offset + k + 1;
    const threshold = request.collapse === true ? DEFAULT_COLLAPSE_THRESHOLD : request.collapse ? request.collapse.threshold : undefined;
    const available = filtered ?? (await this.store.countItems(selection));
    if (exact && available > this.#maxExactScan) {
      throw new RsclipError('BAD_QUERY', `exact search would scan ${available} vectors; this server allows at most ${this.#maxExactScan}`, {
        hint: 'leave exact out, add a filter, or use `rsclip search --exact`',
      });
    }
    const nmsThreshold = request.nms === false ? undefined : typeof request.nms === 'number' ? request.nms : DEFAULT_NMS_THRESHOLD;
    let fetchCount = threshold === undefined ? wanted : wanted * COLLAPSE_OVERFETCH;
    let groups: CollapsedGroup[] = [];
    let ef: number | undefined;
    const vectors = new Map<number, Float32Array>();
    const placed = new Map<number, PlacedHit>();
    for (;;) {
      ef = exact ? undefined : chooseEf(fetchCount, request.ef);
      const hits: ScoredId[] = available === 0 ? [] : await this.store.search(vector, fetchCount, { ...selection, exact, ...(ef === undefined ? {} : { ef }) });
      if (threshold === undefined) groups = hits.map((hit) => ({ hit, duplicates: [] }));
      else {
        const unseen = hits.filter((hit) => !vectors.has(hit.id)).map((hit) => hit.id);
        for (const [id, v] of await this.store.getVectors(unseen)) vectors.set(id, v);
        groups = collapseNearDuplicates(hits, (id) => vectors.get(id), threshold);
      }
      if (nmsThreshold !== undefined) {
        const unplaced = groups.filter((g) => !placed.has(g.hit.id)).map((g) => g.hit.id);
        for (const item of await this.store.getItems(unplaced)) placed.set(item.id, { fileId: item.file.id, window: item.window });
        groups = suppressOverlaps(groups, (g) => g.hit.id, (id) => placed.get(id), nmsThreshold);
      }
      if (groups.length >= wanted || hits.length < fetchCount || fetchCount >= available) break;
      fetchCount = Math.min(fetchCount * 2, available);
    }
    const hits = await this.assembleHits(groups.slice(offset, offset + k), offset);
    const page: SearchPage = {
      hits,
      k,
      offset,
      exact,
      timings: { embedMs: clock.embedMs, searchMs: performance.now() - clock.searchStart },
    };
    if (groups.length > offset + k) page.nextCursor = encodeCursor(offset + k, key);
    if (ef !== undefined) page.ef = ef;
    if (filtered !== undefined) page.filtered = filtered;
    return page;
  }

  private async assembleHits(groups: CollapsedGroup[], offset: number): Promise<SearchHit[]> {
    const ids = groups.flatMap((g) => [g.hit.id, ...g.duplicates.map((d) => d.id)]);
    const [items, fields] = await Promise.all([this.store.getItems(ids), this.store.getFields(groups.map((g) => g.hit.id))]);
    const byId = new Map(items.map((item) => [item.id, item]));
    const hits: SearchHit[] = [];
    for (const [i, group] of groups.entries()) {
      const item = byId.get(group.hit.id);
      if (!item) continue; // removed by a concurrent indexer between search and lookup
      hits.push(
        buildHit(item, {
          rank: offset + i + 1,
          score: group.hit.score,
          fields: fields.get(item.id) ?? {},
          duplicates: group.duplicates.map((d) => ({ id: d.id, score: d.score, similarity: d.similarity, path: byId.get(d.id)?.file.path ?? '' })),
          absolutePath: this.#absolutePaths,
        }),
      );
    }
    return hits;
  }
}
