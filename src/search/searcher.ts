/**
 * The search composition root: an encoder and an index store come in through the
 * constructor (tests pass fakes); `search` turns a SearchRequest into one page of hits.
 */
import { LRUCache } from 'lru-cache';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RsclipError, invalidParameter } from '../errors.js';
import type { ClipEncoder, QueryRendering } from '../model/encoder-types.js';
import { assertModelMatches } from '../store/model-binding.js';
import type { FieldValue, IndexStore, ItemRecord, ItemSelection } from '../store/types.js';
import { vectorProblem, type ScoredId } from '../vector-math.js';
import { collapseNearDuplicatesInTurns, type CollapsedGroup } from './collapse.js';
import { checkFilterFieldNames } from './filter-field-names.js';
import { decodeCursor, encodeCursor, ordersAfter, queryKey, type CursorPosition } from './cursor.js';
import { buildHit } from './hit.js';
import { chooseEf, DEFAULT_COLLAPSE_THRESHOLD, DEFAULT_K, fetchBand, MAX_COLLAPSE_WINDOW, MAX_EF, MAX_FETCHED_HITS, MAX_K, MAX_TERMS, MAX_WINDOW, resultWindow, type QueryKind } from './limits.js';
import { nmsShare, suppressOverlaps, type PlacedHit } from './nms.js';
import { longTextNotices } from './long-texts.js';
import { modelVector } from './model-vector.js';
import { combineWeighted } from './query-vector.js';
import { checkLibrarySearchRequest, checkLibraryTerms } from './request-schema.js';
import { recordedPlanOptions } from '../indexer/plan.js';
import { TextEmbeddingBatcher, type TextBatcherOptions } from './text-batcher.js';
import type { CheckedSearchRequest, QueryTerm, SearchHit, SearchPage, SearchRequest } from './types.js';

export interface SearcherOptions {
  batching?: TextBatcherOptions;
  /**
   * Most vectors an `exact` request may scan (default: no limit). A server sets it: an exact
   * scan runs on the event loop (about 130 ms per 100k 512-d vectors on a 2-core EPYC, and
   * the first one also loads every vector), so it would stall every other request.
   */
  maxExactScan?: number;
  /** Text embeddings kept for repeated queries and later pages of a query (default 256 entries, at most MAX_TEXT_CACHE_ENTRIES; 0 turns it off). */
  textCacheSize?: number;
  /** Bytes those may take, texts and vectors counted (default 4 MiB). */
  textCacheBytes?: number;
  /** Hits carry their file's absolute path (the CLI; a server must not reveal its folders). */
  absolutePaths?: boolean;
  /**
   * Texts already embedded or being embedded (a command's warm-up, see warmUpWithFirstText):
   * taken from here instead of being embedded again.
   */
  embeddedTexts?: ReadonlyMap<string, Promise<Float32Array>>;
}

export const DEFAULT_TEXT_CACHE_ENTRIES = 256;
export const DEFAULT_TEXT_CACHE_BYTES = 4 * 1024 * 1024;

/** Hits of a pass below which the searcher does not give the event loop a turn between the store's calls (they are short). */
const NO_TURN_BELOW = 256;

/** With collapsing, candidates are fetched in rounds of this many times the results wanted. */
const COLLAPSE_OVERFETCH = 3;

function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RsclipError('BAD_QUERY', `${name} must be an integer from ${min} to ${max}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
}

/** The most text-cache entries: lru-cache allocates room for all of them up front (160 MB for 10 million). */
export const MAX_TEXT_CACHE_ENTRIES = 100_000;

/**
 * Throws BAD_INPUT naming the first option out of range (a JavaScript caller's; startServer passes
 * its own on): a NaN there is no error of its own but a limit silently lifted or a cache turned off.
 */
function checkSearcherOptions(options: SearcherOptions): void {
  if (typeof options !== 'object' || (options as unknown) === null || Array.isArray(options)) throw invalidParameter('options', 'an object', options);
  const { maxExactScan, textCacheSize, textCacheBytes } = options as Record<keyof SearcherOptions, unknown>;
  if (maxExactScan !== undefined && maxExactScan !== Infinity && !isCount(maxExactScan, 0)) throw invalidParameter('maxExactScan', 'a number of vectors, 0 or more (Infinity: no limit)', maxExactScan);
  if (textCacheSize !== undefined && !(isCount(textCacheSize, 0) && textCacheSize <= MAX_TEXT_CACHE_ENTRIES)) {
    throw invalidParameter('textCacheSize', `an integer from 0 (no cache) to ${MAX_TEXT_CACHE_ENTRIES}`, textCacheSize);
  }
  if (textCacheBytes !== undefined && !isCount(textCacheBytes, 1)) throw invalidParameter('textCacheBytes', 'a positive integer of bytes', textCacheBytes);
}

function isCount(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

/** The band choice and stretch the index renders images with (its recorded plan), for query images to be rendered alike. */
function queryRendering(plan: string | null | undefined): QueryRendering {
  const { bands, percentiles } = recordedPlanOptions(plan ?? undefined);
  return { ...(bands ? { bands } : {}), ...(percentiles ? { percentiles } : {}) };
}

export class Searcher {
  readonly encoder: ClipEncoder;
  readonly store: IndexStore;
  readonly textBatcher: TextEmbeddingBatcher;
  readonly #maxExactScan: number;
  readonly #absolutePaths: boolean;
  readonly #embeddedTexts: ReadonlyMap<string, Promise<Float32Array>> | undefined;
  /** Text -> its embedding (pending or done), bounded by entries and bytes; undefined when turned off. */
  readonly #textCache: LRUCache<string, Promise<Float32Array>> | undefined;

  constructor(encoder: ClipEncoder, store: IndexStore, options: SearcherOptions = {}) {
    checkSearcherOptions(options);
    assertModelMatches(store.meta, store.describe().location, encoder.info);
    this.encoder = encoder;
    this.store = store;
    this.textBatcher = new TextEmbeddingBatcher((texts) => encoder.embedTexts(texts), options.batching);
    this.#maxExactScan = options.maxExactScan ?? Infinity;
    this.#absolutePaths = options.absolutePaths ?? false;
    this.#embeddedTexts = options.embeddedTexts;
    const entries = options.textCacheSize ?? DEFAULT_TEXT_CACHE_ENTRIES;
    const vectorBytes = 4 * encoder.info.embeddingDim;
    this.#textCache =
      entries > 0
        ? new LRUCache({ max: entries, maxSize: options.textCacheBytes ?? DEFAULT_TEXT_CACHE_BYTES, sizeCalculation: (_vector, text) => 2 * text.length + vectorBytes })
        : undefined;
  }

  /** The unit query vector of the terms: texts through the micro-batcher, images in one encoder call. */
  async queryVector(terms: QueryTerm[]): Promise<Float32Array> {
    checkLibraryTerms(terms);
    if (terms.length === 0) throw new RsclipError('BAD_QUERY', 'empty query: expected at least one text, image or id term');
    if (terms.length > MAX_TERMS) throw new RsclipError('BAD_QUERY', `too many query terms: at most ${MAX_TERMS}, got ${terms.length}`);
    for (const term of terms) {
      if (!Number.isFinite(term.weight) || term.weight === 0) throw new RsclipError('BAD_QUERY', `term weights must be finite and non-zero, got ${term.weight}`);
      if (term.kind === 'text' && term.text.trim() === '') throw new RsclipError('BAD_QUERY', 'empty text term');
    }
    const images = terms.filter((t) => t.kind === 'image');
    const ids = terms.flatMap((t) => (t.kind === 'id' ? [t.id] : []));
    const [imageVectors, textVectors, stored] = await Promise.all([
      images.length > 0 ? this.encoder.embedImages(images.map((t) => t.image), queryRendering(this.store.meta.plan)) : [],
      Promise.all(terms.map((t) => (t.kind === 'text' ? this.#embedText(t.text) : undefined))),
      ids.length > 0 ? this.store.getVectors(ids) : new Map<number, Float32Array>(),
    ]);
    let nextImage = 0;
    const parts = terms.map((term, i) => {
      if (term.kind === 'text') return { vector: modelVector(textVectors[i]!, `the text "${term.text}"`), weight: term.weight };
      if (term.kind === 'image') return { vector: modelVector(imageVectors[nextImage++]!, 'the query image'), weight: term.weight };
      const vector = stored.get(term.id);
      if (!vector) throw new RsclipError('NOT_FOUND', `no indexed image with id ${term.id}`, { hint: 'ids come from search results (#id)' });
      const problem = vectorProblem(vector);
      if (problem) throw new RsclipError('INDEX_CORRUPT', `the stored vector of image ${term.id} has ${problem}: no search can start from it`, { hint: 'a damaged model or damaged storage made it: `rsclip doctor --index DIR` drops such vectors, and the next `rsclip index` embeds their files again' });
      return { vector, weight: term.weight };
    });
    return combineWeighted(parts);
  }

  #embedText(text: string): Promise<Float32Array> {
    const embedded = this.#embeddedTexts?.get(text);
    if (embedded) return embedded;
    const cached = this.#textCache?.get(text);
    if (cached) return cached;
    const pending = this.textBatcher.embed(text);
    if (this.#textCache) {
      const cache = this.#textCache;
      cache.set(text, pending);
      // a failed embedding is not remembered
      pending.catch(() => cache.delete(text));
    }
    return pending;
  }

  /** Entries and bytes of the text-embedding cache (for stats and the bound tests). */
  textCacheUse(): { entries: number; bytes: number } {
    return { entries: this.#textCache?.size ?? 0, bytes: this.#textCache?.calculatedSize ?? 0 };
  }

  async search(given: SearchRequest): Promise<SearchPage> {
    // a JavaScript caller's request is checked here, not by TypeScript: the bounds first, each with
    // the value given, then the shape of the rest; nothing unchecked reaches the engine (a NaN ef
    // aborts usearch's addon, and with it the process)
    if (typeof given !== 'object' || (given as unknown) === null) checkLibrarySearchRequest(given);
    checkInteger('k', given.k, 1, MAX_K);
    checkInteger('offset', given.offset, 0, MAX_WINDOW);
    checkInteger('ef', given.ef, 1, MAX_EF);
    const request = checkLibrarySearchRequest(given);
    // a cursor carries its own position: an offset beside it would be ignored, not added
    if (request.cursor !== undefined && (request.offset ?? 0) !== 0) {
      throw new RsclipError('BAD_QUERY', `cursor and offset were both given (offset ${request.offset}): a cursor says where its page starts`, { hint: 'give the cursor alone, or an offset without a cursor' });
    }
    const key = queryKey(request);
    const position: CursorPosition = request.cursor !== undefined ? decodeCursor(request.cursor, key) : { offset: request.offset ?? 0 };
    const { offset } = position;
    // a cursor is offered wherever a result is left in the window: its page is the window's last
    // where a full one would pass it (an offset asked for past the window is refused below)
    const window = resultWindow(collapses(request));
    const k = request.cursor !== undefined && offset < window ? Math.min(request.k ?? DEFAULT_K, window - offset) : (request.k ?? DEFAULT_K);
    if (offset + k > MAX_WINDOW) throw new RsclipError('BAD_QUERY', `offset + k must be at most ${MAX_WINDOW}, got ${offset + k}`, { hint: 'narrow the query with a filter' });
    if (collapses(request) && offset + k > MAX_COLLAPSE_WINDOW) {
      throw new RsclipError('BAD_QUERY', `with collapse, offset + k must be at most ${MAX_COLLAPSE_WINDOW}, got ${offset + k}`, {
        hint: 'narrow the query with a filter, or page without collapse',
      });
    }
    if (request.filter?.fields) await checkFilterFieldNames(this.store, Object.keys(request.filter.fields));
    const embedStart = performance.now();
    const vector = await this.queryVector(request.terms);
    const searchStart = performance.now();
    const page = await this.searchVector(vector, request, k, position, key, { embedMs: searchStart - embedStart, searchStart });
    const notices = longTextNotices(this.encoder, request.terms);
    if (notices.length > 0) page.notices = [...notices, ...(page.notices ?? [])];
    return page;
  }

  /** Top results for an already-computed query vector (ranked, filtered, folded, collapsed, paged). */
  private async searchVector(
    vector: Float32Array,
    request: CheckedSearchRequest,
    k: number,
    position: CursorPosition,
    key: string,
    clock: { embedMs: number; searchStart: number },
  ): Promise<SearchPage> {
    const exact = request.exact === true;
    const selection: ItemSelection = {};
    if (request.filter) selection.filter = request.filter;
    // the items a query names (#id) are never among its results: "more like this" means other items
    const excluded = [...new Set([...(request.excludeIds ?? []), ...request.terms.flatMap((t) => (t.kind === 'id' ? [t.id] : []))])];
    if (excluded.length > 0) selection.excludeIds = excluded;
    const foldCopies = request.foldCopies ?? true;
    // nor, with copies folded (identical bytes are one result), are their byte-identical copies
    const excludedCopies = new Set(foldCopies && excluded.length > 0 ? (await this.store.getItems(excluded)).flatMap((item) => copyKey(item) ?? []) : []);
    const filtered = request.filter ? await this.store.countItems(selection) : undefined;
    const { offset, after } = position;
    // Groups are heads of results in the order of results. A cursor's page starts after the
    // previous page's last hit (wherever it now ranks: a deeper page's search may find more or
    // fewer hits before it), an offset's at that rank. One group more than the page, so that we
    // know whether a next page exists.
    const startOf = (groups: HitGroup[]) => (after ? firstAfter(groups, after) : offset);
    const threshold = request.collapse === true ? DEFAULT_COLLAPSE_THRESHOLD : request.collapse ? request.collapse.threshold : undefined;
    const window = resultWindow(threshold !== undefined);
    const kind: QueryKind = request.terms.some((t) => t.kind === 'text') ? 'text' : 'image';
    // bounded: every pass fetches twice the hits of the one before, at most MAX_FETCHED_HITS; the
    // count is a band's (fetchBand), so that pages of a band see the same hits
    const fetchLimit = (available: number) => Math.min(available, MAX_FETCHED_HITS);
    let fetchCount = fetchBand(Math.min((offset + k + 1) * (threshold === undefined ? 1 : COLLAPSE_OVERFETCH), MAX_FETCHED_HITS));
    // the groups collapse forms: a page needs those up to its own, one more, and those suppressed
    let groupLimit = offset + k + 1;
    // Without a filter, the graph's search needs nothing of the count: both at once (over a network,
    // one round trip instead of two). A filter's count comes first (the store keeps what it read of
    // the selection, which its search then uses), and an exact search waits for the count's check.
    const [available, firstHits] = await Promise.all([
      filtered ?? this.store.countItems(selection),
      filtered === undefined && !exact ? this.store.search(vector, fetchCount, { ...selection, ef: chooseEf(fetchCount, request.ef, kind) }) : undefined,
    ]);
    if (exact && available > this.#maxExactScan) {
      throw new RsclipError('BAD_QUERY', `exact search would scan ${available} vectors; this server allows at most ${this.#maxExactScan}`, {
        hint: 'leave exact out, add a filter, or use `rsclip search --exact`',
      });
    }
    const nmsThreshold = nmsShare(request.nms);
    let groups: HitGroup[] = [];
    let start = offset;
    let ef: number | undefined;
    let fetched = 0;
    let cutShort = false;
    const vectors = new Map<number, Float32Array>();
    const items = new Map<number, ItemRecord>();
    const fields: KnownFields = { read: new Set(), values: new Map() };
    for (let pass = 0; ; pass++) {
      ef = exact ? undefined : chooseEf(fetchCount, request.ef, kind);
      // An embedded store answers on this thread, and an answer already there resumes us at once
      // (a microtask): without a turn of the event loop between its calls, a page of several passes
      // of thousands of hits would keep every other request (a liveness probe too) waiting for all
      // of them. Each call alone is short (at most MAX_FETCHED_HITS hits).
      if (pass > 0) await nextTurn();
      const hits: ScoredId[] = pass === 0 && firstHits ? firstHits : available === 0 ? [] : await this.store.search(vector, fetchCount, { ...selection, exact, ...(ef === undefined ? {} : { ef }) });
      fetched = hits.length;
      if (hits.length > NO_TURN_BELOW) await nextTurn();
      if (foldCopies || nmsThreshold !== undefined) {
        // the hits' fields with their items (one round trip for both over a network): most hits are results
        const unread = hits.filter((h) => !items.has(h.id)).map((h) => h.id);
        const [read] = await Promise.all([this.store.getItems(unread), this.readFields(unread, fields)]);
        for (const item of read) items.set(item.id, item);
      }
      const folded = foldCopies
        ? foldIdenticalCopies(hits, (id) => copyKey(items.get(id))).filter(({ hit }) => !excludedCopies.has(copyKey(items.get(hit.id)) ?? ''))
        : hits.map((hit) => ({ hit, copies: [] }));
      let truncated = false;
      if (threshold === undefined) groups = folded.map(({ hit, copies }) => ({ hit, copies, duplicates: [] }));
      else {
        const unseen = folded.filter(({ hit }) => !vectors.has(hit.id)).map(({ hit }) => hit.id);
        if (hits.length > NO_TURN_BELOW) await nextTurn();
        for (const [id, v] of await this.store.getVectors(unseen)) vectors.set(id, v);
        const copiesOf = new Map(folded.map((f) => [f.hit.id, f.copies]));
        const collapsed = await collapseNearDuplicatesInTurns(
          folded.map((f) => f.hit),
          (id) => vectors.get(id),
          threshold,
          { maxGroups: groupLimit },
        );
        truncated = collapsed.truncated;
        groups = collapsed.groups.map((g) => ({ ...g, copies: copiesOf.get(g.hit.id) ?? [] }));
      }
      if (nmsThreshold !== undefined) groups = suppressOverlaps(groups, (g) => g.hit.id, (id) => placedHit(items.get(id), foldCopies), nmsThreshold);
      start = Math.min(startOf(groups), groups.length);
      if (groups.length - start > k) break;
      const moreHits = hits.length === fetchCount && fetchCount < fetchLimit(available);
      if (!moreHits && !truncated) {
        // every hit there is was looked at, or as many as one page may fetch
        cutShort = hits.length === fetchCount && fetchCount < available;
        break;
      }
      if (moreHits) fetchCount = Math.min(fetchBand(fetchCount + 1), fetchLimit(available));
      if (truncated) groupLimit *= 2;
    }
    const pageGroups = groups.slice(start, start + k);
    const hits = await this.assembleHits(pageGroups, offset, items, fields);
    const page: SearchPage = {
      hits,
      k,
      offset,
      exact,
      timings: { embedMs: clock.embedMs, searchMs: performance.now() - clock.searchStart },
    };
    // the next page only where it may be asked for: past the window a request is refused
    if (groups.length - start > k && offset + k < window) page.nextCursor = encodeCursor(offset + k, key, pageGroups[pageGroups.length - 1]!.hit);
    if (cutShort) {
      page.notices = [`this page looked at the best ${fetched} hits only (copies, near-duplicates or overlapping tiles folded many of them); later results are left out`];
    }
    if (ef !== undefined) page.ef = ef;
    if (filtered !== undefined) page.filtered = filtered;
    return page;
  }

  /** Reads the fields of those of `ids` whose fields are not in `known` yet, into it. */
  private async readFields(ids: readonly number[], known: KnownFields): Promise<void> {
    const unread = ids.filter((id) => !known.read.has(id));
    if (unread.length === 0) return;
    for (const [id, values] of await this.store.getFields(unread)) known.values.set(id, values);
    for (const id of unread) known.read.add(id);
  }

  private async assembleHits(groups: HitGroup[], offset: number, known: Map<number, ItemRecord>, knownFields: KnownFields): Promise<SearchHit[]> {
    const ids = groups.flatMap((g) => [g.hit.id, ...g.duplicates.map((d) => d.id), ...g.copies]);
    const missing = ids.filter((id) => !known.has(id));
    const [fetched] = await Promise.all([missing.length > 0 ? this.store.getItems(missing) : [], this.readFields(groups.map((g) => g.hit.id), knownFields)]);
    const fields = knownFields.values;
    const byId = new Map(known);
    for (const item of fetched) byId.set(item.id, item);
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
          copies: group.copies.map((id) => ({ id, path: byId.get(id)?.file.path ?? '' })),
          absolutePath: this.#absolutePaths,
        }),
      );
    }
    return hits;
  }
}

/** Whether a request folds near-duplicates. */
function collapses(request: SearchRequest): boolean {
  return request.collapse === true || (typeof request.collapse === 'object' && request.collapse !== null);
}

/** The index of the first group whose head orders after `last` (groups.length when none does). */
function firstAfter(groups: readonly HitGroup[], last: ScoredId): number {
  const i = groups.findIndex((g) => ordersAfter(g.hit, last));
  return i < 0 ? groups.length : i;
}

/** The user fields read so far: of which items (`read`), and those of them that have any (`values`). */
interface KnownFields {
  read: Set<number>;
  values: Map<number, Record<string, FieldValue | FieldValue[]>>;
}

/** A result: the best item, the byte-identical copies folded into it, and (with collapse) its near-duplicates. */
interface HitGroup extends CollapsedGroup {
  copies: number[];
}

/**
 * What makes two items copies: the same window (key) of files with the same bytes. Byte-identical
 * files are cut by the same plan, so a tile of one scene has its twin at the same key in the other.
 */
function copyKey(item: ItemRecord | undefined): string | undefined {
  return item && item.file.contentHash !== '' ? `${item.file.contentHash}|${item.key}` : undefined;
}

/**
 * An item's window and the scene it is suppressed within: its file, or with copies folded its
 * content (identical scenes are one scene, so a tile folded into a copy's tile is suppressed by
 * the copy's better tiles just as by its own).
 */
function placedHit(item: ItemRecord | undefined, foldCopies: boolean): PlacedHit | undefined {
  if (!item) return undefined;
  return { scene: foldCopies && item.file.contentHash !== '' ? item.file.contentHash : item.file.id, window: item.window };
}

/** Walks `hits` best first; a hit with the same copy key as a better one (see copyKey) is folded into it. */
function foldIdenticalCopies(hits: ScoredId[], hashOf: (id: number) => string | undefined): { hit: ScoredId; copies: number[] }[] {
  const byHash = new Map<string, { hit: ScoredId; copies: number[] }>();
  const out: { hit: ScoredId; copies: number[] }[] = [];
  for (const hit of hits) {
    const hash = hashOf(hit.id);
    const first = hash ? byHash.get(hash) : undefined;
    if (first) {
      first.copies.push(hit.id);
      continue;
    }
    const group = { hit, copies: [] };
    if (hash) byHash.set(hash, group);
    out.push(group);
  }
  return out;
}
