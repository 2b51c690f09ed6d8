/**
 * Text embeddings cached per model, so that a second evaluation with the same model, or a
 * comparison that shares its captions, embeds only the texts it has not seen before.
 *
 *   <cacheDir>/text-embeddings/<key>.bin
 *
 * `key` is a sha256 over what decides a text's vector: the model fingerprint (the variant's
 * ONNX files and the preprocessing), the tokenizer files and the context length. The file is
 * "RSCLIPTE", a uint32 LE format version (1) and a uint32 LE dimension, then one record per
 * text: sha256 of the text's UTF-8 (32 bytes) and its unit vector (dimension x float32 LE).
 * It is rewritten whole into a temporary file and renamed, so a reader never sees a partial
 * file; when two runs save at once the last rename wins and the other's new texts are simply
 * embedded again next time. A file that does not parse is ignored and replaced.
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
const FORMAT_VERSION = 1;
const HEADER_BYTES = 16;
const HASH_BYTES = 32;
export const TEXT_CACHE_FOLDER = 'text-embeddings';

function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The cache key of a model: fingerprint, tokenizer file bytes, context length. */
export async function textCacheKey(model: ModelInfo): Promise<string> {
  const dir = openModelDirectory(model.dir, { variant: model.variant });
  const files = dir.tokenizer.kind === 'tokenizer.json' ? [dir.tokenizer.file] : [dir.tokenizer.vocabFile, dir.tokenizer.mergesFile];
  const hash = createHash('sha256').update(`rsclip-text-cache-v${FORMAT_VERSION}\n${model.fingerprint}\ncontext ${model.contextLength}\n`);
  for (const file of files) hash.update(`${path.basename(file)} `).update(await readFile(file)).update('\n');
  return hash.digest('hex');
}

function parseCacheFile(data: Buffer, dimension: number): Map<string, Float32Array> | undefined {
  const recordBytes = HASH_BYTES + 4 * dimension;
  if (data.length < HEADER_BYTES || !data.subarray(0, 8).equals(MAGIC)) return undefined;
  if (data.readUInt32LE(8) !== FORMAT_VERSION || data.readUInt32LE(12) !== dimension) return undefined;
  if ((data.length - HEADER_BYTES) % recordBytes !== 0) return undefined;
  const vectors = new Map<string, Float32Array>();
  for (let offset = HEADER_BYTES; offset < data.length; offset += recordBytes) {
    const vector = new Float32Array(dimension);
    for (let d = 0; d < dimension; d++) vector[d] = data.readFloatLE(offset + HASH_BYTES + 4 * d);
    vectors.set(data.toString('hex', offset, offset + HASH_BYTES), vector);
  }
  return vectors;
}

export class TextEmbeddingCache {
  readonly file: string;
  readonly #dimension: number;
  readonly #vectors: Map<string, Float32Array>;
  #dirty = false;

  private constructor(file: string, dimension: number, vectors: Map<string, Float32Array>) {
    this.file = file;
    this.#dimension = dimension;
    this.#vectors = vectors;
  }

  /** Opens (or starts) the cache of `model` under `cacheDir`. */
  static async open(cacheDir: string, model: ModelInfo): Promise<TextEmbeddingCache> {
    const file = path.join(cacheDir, TEXT_CACHE_FOLDER, `${await textCacheKey(model)}.bin`);
    let vectors: Map<string, Float32Array> | undefined;
    try {
      if (existsSync(file)) vectors = parseCacheFile(await readFile(file), model.embeddingDim);
      if (existsSync(file) && !vectors) log('text cache %s does not parse; it will be replaced', file);
    } catch (error) {
      log('text cache %s cannot be read (%s); starting empty', file, (error as Error).message);
    }
    return new TextEmbeddingCache(file, model.embeddingDim, vectors ?? new Map());
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
    const recordBytes = HASH_BYTES + 4 * this.#dimension;
    const data = Buffer.alloc(HEADER_BYTES + this.#vectors.size * recordBytes);
    MAGIC.copy(data, 0);
    data.writeUInt32LE(FORMAT_VERSION, 8);
    data.writeUInt32LE(this.#dimension, 12);
    let offset = HEADER_BYTES;
    for (const [hash, vector] of this.#vectors) {
      data.write(hash, offset, 'hex');
      for (let d = 0; d < this.#dimension; d++) data.writeFloatLE(vector[d]!, offset + HASH_BYTES + 4 * d);
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
