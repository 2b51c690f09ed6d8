/**
 * Text embeddings cached per model, so that a second evaluation with the same model, or a
 * comparison that shares its captions, embeds only the texts it has not seen before.
 *
 *   <cacheDir>/text-embeddings/<key>.bin
 *
 * `key` is a sha256 over what decides a text's vector: the model fingerprint (the variant's
 * ONNX files and the preprocessing), the tokenizer files and the context length. The file is
 * "RSCLIPTE", a uint32 LE format version (2) and a uint32 LE dimension, then one record per
 * text: sha256 of the text's UTF-8 (32 bytes), its unit vector (dimension x float32 LE) and a
 * sha256 over those two (32 bytes). A record whose checksum does not match (a flipped bit), or
 * whose vector is not finite or not of unit length, is dropped when the file is read, so its
 * text is embedded again and the file rewritten without it; a file whose header does not parse,
 * or of another format version (version 1 had no checksums), is ignored and replaced whole.
 * It is rewritten whole into a temporary file and renamed, so a reader never sees a partial
 * file; when two runs save at once the last rename wins and the other's new texts are simply
 * embedded again next time. What was dropped is logged under NODE_DEBUG=rsclip, as the other
 * caches do: it costs only the embedding again, never a wrong vector.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { debuglog } from 'node:util';
import type { ModelInfo } from '../model/encoder-types.js';
import { openModelDirectory } from '../model/model-dir.js';

const log = debuglog('rsclip');
const MAGIC = Buffer.from('RSCLIPTE', 'latin1');
const FORMAT_VERSION = 2;
/** Part of the cache key: what decides a vector, not the file's layout (a new layout replaces the file of the same name). */
const KEY_VERSION = 1;
const HEADER_BYTES = 16;
const HASH_BYTES = 32;
const CHECK_BYTES = 32;
/** How far a stored vector's length may be from 1 (float32 rounding is far below it). */
const UNIT_TOLERANCE = 1e-3;
export const TEXT_CACHE_FOLDER = 'text-embeddings';

function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The cache key of a model: fingerprint, tokenizer file bytes, context length. */
export async function textCacheKey(model: ModelInfo): Promise<string> {
  const dir = openModelDirectory(model.dir, { variant: model.variant });
  const files = dir.tokenizer.kind === 'tokenizer.json' ? [dir.tokenizer.file] : [dir.tokenizer.vocabFile, dir.tokenizer.mergesFile];
  const hash = createHash('sha256').update(`rsclip-text-cache-v${KEY_VERSION}\n${model.fingerprint}\ncontext ${model.contextLength}\n`);
  for (const file of files) hash.update(`${path.basename(file)} `).update(await readFile(file)).update('\n');
  return hash.digest('hex');
}

const recordBytesOf = (dimension: number): number => HASH_BYTES + 4 * dimension + CHECK_BYTES;

/** The checksum of a record: sha256 over its text hash and vector bytes. */
function recordCheck(record: Buffer, dimension: number): Buffer {
  return createHash('sha256')
    .update(record.subarray(0, HASH_BYTES + 4 * dimension))
    .digest();
}

/** The vector of a record, or why it is refused. */
function recordVector(record: Buffer, dimension: number): Float32Array | string {
  if (!recordCheck(record, dimension).equals(record.subarray(HASH_BYTES + 4 * dimension))) return 'checksum mismatch';
  const vector = new Float32Array(dimension);
  let squares = 0;
  for (let d = 0; d < dimension; d++) {
    const x = record.readFloatLE(HASH_BYTES + 4 * d);
    if (!Number.isFinite(x)) return 'a value that is not finite';
    vector[d] = x;
    squares += x * x;
  }
  if (Math.abs(Math.sqrt(squares) - 1) > UNIT_TOLERANCE) return `length ${Math.sqrt(squares)}, not 1`;
  return vector;
}

interface ParsedCache {
  vectors: Map<string, Float32Array>;
  /** Records refused: checksum mismatch, or a vector not finite or not of unit length. */
  dropped: number;
  firstProblem: string | null;
}

function parseCacheFile(data: Buffer, dimension: number): ParsedCache | undefined {
  const recordBytes = recordBytesOf(dimension);
  if (data.length < HEADER_BYTES || !data.subarray(0, 8).equals(MAGIC)) return undefined;
  if (data.readUInt32LE(8) !== FORMAT_VERSION || data.readUInt32LE(12) !== dimension) return undefined;
  if ((data.length - HEADER_BYTES) % recordBytes !== 0) return undefined;
  const parsed: ParsedCache = { vectors: new Map(), dropped: 0, firstProblem: null };
  for (let offset = HEADER_BYTES; offset < data.length; offset += recordBytes) {
    const record = data.subarray(offset, offset + recordBytes);
    const vector = recordVector(record, dimension);
    if (typeof vector === 'string') {
      parsed.dropped++;
      parsed.firstProblem ??= `record ${(offset - HEADER_BYTES) / recordBytes}: ${vector}`;
    } else parsed.vectors.set(record.toString('hex', 0, HASH_BYTES), vector);
  }
  return parsed;
}

export class TextEmbeddingCache {
  readonly file: string;
  readonly #dimension: number;
  readonly #vectors: Map<string, Float32Array>;
  #dirty: boolean;
  /** Damaged records dropped when the file was read (their texts are embedded again). */
  readonly dropped: number;

  private constructor(file: string, dimension: number, vectors: Map<string, Float32Array>, dropped: number) {
    this.file = file;
    this.#dimension = dimension;
    this.#vectors = vectors;
    this.dropped = dropped;
    // rewritten at the next save even if no text is added, so that the damage does not stay
    this.#dirty = dropped > 0;
  }

  /** Opens (or starts) the cache of `model` under `cacheDir`. */
  static async open(cacheDir: string, model: ModelInfo): Promise<TextEmbeddingCache> {
    const file = path.join(cacheDir, TEXT_CACHE_FOLDER, `${await textCacheKey(model)}.bin`);
    let parsed: ParsedCache | undefined;
    try {
      if (existsSync(file)) {
        parsed = parseCacheFile(await readFile(file), model.embeddingDim);
        if (!parsed) log('text cache %s does not parse (or is of another format version); it will be replaced', file);
        else if (parsed.dropped > 0) log('text cache %s: %d damaged record(s) dropped (first: %s); their texts are embedded again', file, parsed.dropped, parsed.firstProblem);
      }
    } catch (error) {
      log('text cache %s cannot be read (%s); starting empty', file, (error as Error).message);
    }
    return new TextEmbeddingCache(file, model.embeddingDim, parsed?.vectors ?? new Map(), parsed?.dropped ?? 0);
  }

  get size(): number {
    return this.#vectors.size;
  }

  get(text: string): Float32Array | undefined {
    return this.#vectors.get(textHash(text));
  }

  set(text: string, vector: Float32Array): void {
    if (vector.length !== this.#dimension) throw new Error(`text cache: expected a vector of ${this.#dimension}, got ${vector.length}`);
    this.#vectors.set(textHash(text), vector);
    this.#dirty = true;
  }

  /** Writes the cache if anything was added (temporary file, then rename). */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    const recordBytes = recordBytesOf(this.#dimension);
    const data = Buffer.alloc(HEADER_BYTES + this.#vectors.size * recordBytes);
    MAGIC.copy(data, 0);
    data.writeUInt32LE(FORMAT_VERSION, 8);
    data.writeUInt32LE(this.#dimension, 12);
    let offset = HEADER_BYTES;
    for (const [hash, vector] of this.#vectors) {
      data.write(hash, offset, 'hex');
      for (let d = 0; d < this.#dimension; d++) data.writeFloatLE(vector[d]!, offset + HASH_BYTES + 4 * d);
      const record = data.subarray(offset, offset + recordBytes);
      recordCheck(record, this.#dimension).copy(record, HASH_BYTES + 4 * this.#dimension);
      offset += recordBytes;
    }
    await mkdir(path.dirname(this.file), { recursive: true });
    const temporary = `${this.file}.${randomUUID()}.tmp`;
    try {
      await writeFile(temporary, data);
      await rename(temporary, this.file);
    } finally {
      await rm(temporary, { force: true });
    }
    this.#dirty = false;
  }
}
