/**
 * Reproducible vectors shaped like CLIP image embeddings of an aerial archive, for engine
 * benchmarks at 10^6-10^7 items without an archive. What ANN engines are sensitive to, and
 * what uniform noise on the sphere lacks:
 * - a narrow cone: every embedding shares a large common direction (random pairs of CLIP image
 *   embeddings have cosine ~0.5, not 0);
 * - clusters at two levels: classes (airport, farmland, ...) and, inside them, scenes (tiles of
 *   one flight, one city) of uneven size and spread, some very tight (near-duplicate tiles);
 * - a low effective dimension: variance falls off as a power law over the latent axes, mixed
 *   into all 512 coordinates by a randomised Hadamard transform (as a random rotation would,
 *   so per-coordinate quantisation sees realistic values, not a few dominant axes);
 * - text queries that sit apart (the modality gap): their own common direction, aimed at a
 *   class and a scene, with a cosine of ~0.3 to the images they describe.
 * Every item is generated from (seed, index) alone, so any range can be regenerated in any
 * process without storing the vectors.
 */

export interface ClipLikeOptions {
  /** Items the archive will hold (sets the number of scenes, ~200 items each). */
  items: number;
  dim: number;
  seed: number;
}

const CLASSES = 64;
const ITEMS_PER_SCENE = 200;
/** Squared weights of the parts of an image embedding (sum 1): common direction, class, scene, item. */
const IMAGE_SHARES = { common: 0.5, klass: 0.2, scene: 0.15, item: 0.15 };
/** Text queries: their own common direction, then the class and scene they describe, then noise. */
const TEXT_SHARES = { common: 0.55, imageCommon: 0.04, klass: 0.08, scene: 0.06, item: 0.27 };
/** Latent variance falls as (axis + 1)^-POWER. */
const POWER = 0.8;

function mix32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32 with Box-Muller normals. */
class Random {
  private state: number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = Math.max(this.uniform(), 1e-12);
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

export class ClipLikeVectors {
  readonly dim: number;
  private readonly seed: number;
  private readonly scenesPerClass: number;
  /** Latent standard deviations, scaled so that a latent draw has expected squared length 1. */
  private readonly sigma: Float64Array;
  private readonly signs: Float64Array;
  private readonly imageCommon: Float64Array;
  private readonly textCommon: Float64Array;
  private readonly classes: Float64Array[];
  private readonly scenes: Float64Array[];
  /** Per scene: how loose its items are (log-uniform: tight tile runs to loose mixed scenes). */
  private readonly sceneSpread: Float64Array;
  /** Cumulative class sizes (Zipf-like: a few classes dominate, as farmland does in real archives). */
  private readonly classCdf: Float64Array;

  constructor(options: ClipLikeOptions) {
    const { dim, seed } = options;
    if ((dim & (dim - 1)) !== 0) throw new Error(`dim must be a power of two for the Hadamard mixing, got ${dim}`);
    this.dim = dim;
    this.seed = seed;
    this.scenesPerClass = Math.max(4, Math.round(options.items / ITEMS_PER_SCENE / CLASSES));
    const random = new Random(mix32(seed, 0x5eed));
    let total = 0;
    this.sigma = Float64Array.from({ length: dim }, (_, j) => (j + 1) ** -POWER);
    for (const s of this.sigma) total += s;
    for (let j = 0; j < dim; j++) this.sigma[j] = Math.sqrt(this.sigma[j]! / total);
    this.signs = Float64Array.from({ length: dim }, () => (random.uniform() < 0.5 ? -1 : 1));
    this.imageCommon = this.direction(random);
    this.textCommon = this.direction(random);
    this.classes = Array.from({ length: CLASSES }, () => this.latent(random));
    this.scenes = Array.from({ length: CLASSES * this.scenesPerClass }, () => this.latent(random));
    this.sceneSpread = Float64Array.from({ length: this.scenes.length }, () => Math.exp(Math.log(0.15) + random.uniform() * Math.log(2 / 0.15)));
    const weights = Array.from({ length: CLASSES }, (_, c) => 1 / (c + 1) ** 0.7);
    const sum = weights.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.classCdf = Float64Array.from(weights, (w) => (acc += w / sum));
  }

  /** A latent draw with the power-law spectrum (expected squared length 1). */
  private latent(random: Random): Float64Array {
    return Float64Array.from(this.sigma, (s) => s * random.normal());
  }

  /** A unit direction with no spectrum: the common directions point anywhere. */
  private direction(random: Random): Float64Array {
    const v = Float64Array.from({ length: this.dim }, () => random.normal());
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  }

  private pickScene(random: Random): { klass: number; scene: number } {
    const u = random.uniform();
    let klass = 0;
    while (klass < CLASSES - 1 && this.classCdf[klass]! < u) klass++;
    return { klass, scene: klass * this.scenesPerClass + Math.floor(random.uniform() * this.scenesPerClass) };
  }

  /** Randomised Hadamard transform (in place), then L2 normalisation into `out` at `offset`. */
  private emit(v: Float64Array, out: Float32Array, offset: number): void {
    const n = this.dim;
    for (let j = 0; j < n; j++) v[j]! *= this.signs[j]!;
    for (let h = 1; h < n; h *= 2) {
      for (let i = 0; i < n; i += h * 2) {
        for (let j = i; j < i + h; j++) {
          const a = v[j]!;
          const b = v[j + h]!;
          v[j] = a + b;
          v[j + h] = a - b;
        }
      }
    }
    let norm = 0;
    for (let j = 0; j < n; j++) norm += v[j]! * v[j]!;
    norm = Math.sqrt(norm) || 1;
    for (let j = 0; j < n; j++) out[offset + j] = v[j]! / norm;
  }

  /** Image embeddings of items [start, start + count), row after row. */
  images(start: number, count: number): Float32Array {
    const out = new Float32Array(count * this.dim);
    const v = new Float64Array(this.dim);
    const w = {
      common: Math.sqrt(IMAGE_SHARES.common),
      klass: Math.sqrt(IMAGE_SHARES.klass),
      scene: Math.sqrt(IMAGE_SHARES.scene),
      item: Math.sqrt(IMAGE_SHARES.item),
    };
    for (let r = 0; r < count; r++) {
      const random = new Random(mix32(this.seed, start + r));
      const { klass, scene } = this.pickScene(random);
      const c = this.classes[klass]!;
      const s = this.scenes[scene]!;
      const spread = w.item * this.sceneSpread[scene]!;
      for (let j = 0; j < this.dim; j++) v[j] = w.common * this.imageCommon[j]! + w.klass * c[j]! + w.scene * s[j]! + spread * this.sigma[j]! * random.normal();
      this.emit(v, out, r * this.dim);
    }
    return out;
  }

  /** Text-query embeddings number [start, start + count) (a stream apart from the images). */
  texts(start: number, count: number): Float32Array {
    const out = new Float32Array(count * this.dim);
    const v = new Float64Array(this.dim);
    const w = Object.fromEntries(Object.entries(TEXT_SHARES).map(([k, share]) => [k, Math.sqrt(share)])) as Record<keyof typeof TEXT_SHARES, number>;
    for (let r = 0; r < count; r++) {
      const random = new Random(mix32(this.seed ^ 0x7e47, start + r));
      const { klass, scene } = this.pickScene(random);
      const c = this.classes[klass]!;
      const s = this.scenes[scene]!;
      for (let j = 0; j < this.dim; j++) {
        v[j] = w.common * this.textCommon[j]! + w.imageCommon * this.imageCommon[j]! + w.klass * c[j]! + w.scene * s[j]! + w.item * this.sigma[j]! * random.normal();
      }
      this.emit(v, out, r * this.dim);
    }
    return out;
  }
}

/** The rows of a flat array of `dim`-long vectors (views, not copies). */
export function vectorRows(flat: Float32Array, dim: number): Float32Array[] {
  return Array.from({ length: flat.length / dim }, (_, r) => flat.subarray(r * dim, (r + 1) * dim));
}
