/**
 * The ANN engines of the embedded back end, behind one factory. The engine is chosen when an
 * index is created and recorded in its meta (`engine` plus its build parameters); an index
 * naming an engine this rsclip lacks is refused rather than guessed at. Indexes keep the
 * engine they were created with; the default applies to new indexes only.
 */
import { RsclipError, invalidParameter } from '../errors.js';
import { graphFileCorrupt, type GraphFileDigest, type GraphIndex, type GraphParams, type HnswParams, type LoadGraphOptions, type UsearchParams, type VectorQuantization } from './graph-index.js';
import { checkHnswFile } from './hnsw-file-check.js';
import { describeCheckFailure, HnswIndex, MAX_ITEM_ID } from './hnsw-index.js';
import { readIvfFile } from './ivf-file.js';
import { IvfIndex } from './ivf-index.js';
import { readUsearchFile } from './usearch-file.js';
import { UsearchIndex } from './usearch-index.js';

export type { GraphFileDigest, GraphIndex, GraphParams, HnswParams, LoadGraphOptions, UsearchParams, VectorQuantization } from './graph-index.js';

export const ENGINE_NAMES = ['hnswlib', 'usearch', 'ivf'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
export const VECTOR_QUANTIZATIONS: readonly VectorQuantization[] = ['f32', 'f16', 'i8'];

/** ivf (ivf-index.ts) sizes its lists from the index and takes no build parameters. */
export type EngineSpec = ({ name: 'hnswlib' } & HnswParams) | ({ name: 'usearch' } & UsearchParams) | { name: 'ivf' };

/**
 * The HNSW build parameters of a spec: its own, or for ivf the usearch defaults (what
 * PostgreSQL's pgvector graph of an index that records ivf is built with).
 */
export function hnswBuildOf(spec: EngineSpec): GraphParams {
  const { M, efConstruction } = spec.name === 'ivf' ? ENGINE_DEFAULTS.usearch : spec;
  return { M, efConstruction };
}

/** What a caller may ask for when an index is created: an engine and any of its parameters. */
export interface EngineChoice {
  name?: EngineName;
  M?: number;
  efConstruction?: number;
  /** hnswlib only. */
  seed?: number;
  /** usearch only. */
  quantization?: VectorQuantization;
}

const ENGINE_CHOICE_KEYS: readonly string[] = ['name', 'M', 'efConstruction', 'seed', 'quantization'] satisfies (keyof EngineChoice)[];

export const ENGINE_DEFAULTS: { readonly hnswlib: { name: 'hnswlib' } & HnswParams; readonly usearch: { name: 'usearch' } & UsearchParams; readonly ivf: { name: 'ivf' } } = {
  hnswlib: { name: 'hnswlib', M: 16, efConstruction: 200, seed: 100 },
  usearch: { name: 'usearch', M: 16, efConstruction: 200, quantization: 'f16' },
  ivf: { name: 'ivf' },
};

/** The largest item id the engines can label: hnswlib's labels keep versions of an item above it, and usearch's live-id bitset stays bounded by it. */
export const ITEM_ID_LIMIT = MAX_ITEM_ID;

/** The engine of new indexes (README "Engines and scale" gives the measurements behind the choice). */
export const DEFAULT_ENGINE: EngineSpec = ENGINE_DEFAULTS.usearch;

function positiveInteger(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) throw invalidParameter(name, `an integer >= ${min}`, value);
}

/** Graphs with more links than this per node cost memory for recall they no longer add. */
const MAX_M = 128;
/** The widest search breadth rsclip allows (search's MAX_EF): a wider build adds build time, not recall (2^32 made usearch fail to allocate). */
const MAX_EF_CONSTRUCTION = 4096;

/**
 * An engine label: `ivf`, or `name[:quantization][:M<n>][:efc<n>]`, e.g. `usearch`, `usearch:i8`,
 * `usearch:f16:M32`, `hnswlib:M24:efc300`. Throws BAD_INPUT naming what it cannot read.
 */
export function parseEngineLabel(label: string): EngineChoice {
  const [name, ...parts] = label.split(':');
  const expected = `expected ivf, or name[:precision][:M<links>][:efc<build ef>] with name hnswlib or usearch and precision ${VECTOR_QUANTIZATIONS.join(', ')} (e.g. usearch:f16:M32)`;
  if (!(ENGINE_NAMES as readonly string[]).includes(name!)) throw new RsclipError('BAD_INPUT', `unknown vector engine "${label}": ${expected}`);
  const choice: EngineChoice = { name: name as EngineName };
  for (const part of parts) {
    const m = /^M(\d+)$/.exec(part);
    const efc = /^efc(\d+)$/.exec(part);
    if (m && choice.M === undefined) choice.M = Number(m[1]);
    else if (efc && choice.efConstruction === undefined) choice.efConstruction = Number(efc[1]);
    else if ((VECTOR_QUANTIZATIONS as readonly string[]).includes(part) && choice.quantization === undefined) choice.quantization = part as VectorQuantization;
    else throw new RsclipError('BAD_INPUT', `cannot read "${part}" in the vector engine "${label}": ${expected}`);
  }
  try {
    resolveEngine(choice);
  } catch (error) {
    const { message, hint } = error as RsclipError;
    throw new RsclipError('BAD_INPUT', `vector engine "${label}": ${message}`, hint ? { hint } : {});
  }
  return choice;
}

/**
 * Whether an engine gives a replaced or removed vector's node to the next vector added, whose
 * links replace the old ones (usearch): the nodes the old vector linked to may be left unreached,
 * and the embedded store relinks them (graph-relink.ts). hnswlib keeps an old point as a routing node.
 */
export function reusesNodes(engine: { name: EngineName }): boolean {
  return engine.name === 'usearch';
}

/** The label of a spec, every parameter written out (usearch:f16:M16:efc200). */
export function engineLabel(spec: EngineSpec): string {
  if (spec.name === 'ivf') return 'ivf';
  return [spec.name, ...(spec.name === 'usearch' ? [spec.quantization] : []), `M${spec.M}`, `efc${spec.efConstruction}`].join(':');
}

/** The full spec of a choice: the named (or default) engine's defaults, overridden by what the choice gives. */
export function resolveEngine(choice: EngineChoice = {}): EngineSpec {
  if (typeof choice !== 'object' || (choice as unknown) === null || Array.isArray(choice)) {
    const refused = invalidParameter('engine', `an EngineChoice object ({ name: ${ENGINE_NAMES.map((n) => `"${n}"`).join(' or ')}, ...its parameters })`, choice);
    if (typeof choice !== 'string') throw refused;
    throw new RsclipError('BAD_INPUT', refused.message, { hint: `parseEngineLabel(${JSON.stringify(choice)}) makes one of an engine label, as --engine takes it` });
  }
  // a misspelt parameter (`m`, `efConstuction`) would leave the default in its place without a word
  const unknown = Object.keys(choice).filter((key) => !ENGINE_CHOICE_KEYS.includes(key));
  if (unknown.length > 0) throw invalidParameter('engine', `an EngineChoice with only ${ENGINE_CHOICE_KEYS.join(', ')}`, unknown.join(', '));
  const name = choice.name ?? DEFAULT_ENGINE.name;
  if (!ENGINE_NAMES.includes(name)) throw invalidParameter('engine', `one of ${ENGINE_NAMES.join(', ')}`, name);
  if (name === 'ivf') {
    const given = (['M', 'efConstruction', 'seed', 'quantization'] as const).filter((key) => choice[key] !== undefined);
    if (given.length > 0) throw new RsclipError('BAD_INPUT', `the ivf engine sizes its lists from the index and keeps int8 vectors: it takes no ${given.join(', ')}`, { hint: 'use --engine ivf alone' });
    return { name };
  }
  positiveInteger('M', choice.M, 2);
  if (choice.M !== undefined && choice.M > MAX_M) throw invalidParameter('M', `an integer from 2 to ${MAX_M}`, choice.M);
  positiveInteger('efConstruction', choice.efConstruction, 1);
  if (choice.efConstruction !== undefined && choice.efConstruction > MAX_EF_CONSTRUCTION) throw invalidParameter('efConstruction', `an integer from 1 to ${MAX_EF_CONSTRUCTION}`, choice.efConstruction);
  const common = { M: choice.M ?? ENGINE_DEFAULTS[name].M, efConstruction: choice.efConstruction ?? ENGINE_DEFAULTS[name].efConstruction };
  if (name === 'hnswlib') {
    if (choice.quantization !== undefined && choice.quantization !== 'f32') {
      throw new RsclipError('BAD_INPUT', `hnswlib stores float32 vectors only; quantization ${choice.quantization} needs the usearch engine`, { hint: 'add --engine usearch' });
    }
    positiveInteger('seed', choice.seed, 0);
    return { name, ...common, seed: choice.seed ?? ENGINE_DEFAULTS.hnswlib.seed };
  }
  if (choice.seed !== undefined) throw new RsclipError('BAD_INPUT', 'usearch builds its graph on several threads and takes no seed', { hint: 'use --engine hnswlib for a reproducible graph' });
  const quantization = choice.quantization ?? ENGINE_DEFAULTS.usearch.quantization;
  if (!VECTOR_QUANTIZATIONS.includes(quantization)) throw invalidParameter('quantization', `one of ${VECTOR_QUANTIZATIONS.join(', ')}`, quantization);
  return { name, ...common, quantization };
}

export function createGraph(spec: EngineSpec, dim: number, capacity: number): GraphIndex {
  if (spec.name === 'ivf') return IvfIndex.create(dim);
  return spec.name === 'hnswlib' ? HnswIndex.create(dim, spec, capacity) : UsearchIndex.create(dim, spec);
}

/** Loads a graph file after checking its structure and letting `accept` judge its digest; a damaged or refused file is INDEX_CORRUPT. */
export function loadGraph(spec: EngineSpec, file: string, dim: number, options: LoadGraphOptions = {}): GraphIndex {
  if (spec.name === 'hnswlib') return HnswIndex.load(file, dim, { M: spec.M, ...(options.accept ? { accept: options.accept } : {}) });
  if (spec.name === 'ivf') return IvfIndex.load(file, dim, options);
  return UsearchIndex.load(file, dim, spec, options);
}

/** Size and sha256 of a graph file, after checking that the engine could load it safely; damage is INDEX_CORRUPT. */
export function checkGraphFile(spec: EngineSpec, file: string, dim: number): GraphFileDigest {
  if (spec.name === 'ivf') return readIvfFile(file, dim).facts;
  if (spec.name === 'usearch') {
    const { bytes, sha256, identity } = readUsearchFile(file, dim, spec.quantization);
    return { bytes, sha256, identity };
  }
  try {
    const { bytes, sha256, identity } = checkHnswFile(file, { dim, M: spec.M });
    return { bytes, sha256, identity };
  } catch (cause) {
    throw graphFileCorrupt(file, describeCheckFailure(cause), cause);
  }
}

/** Every catalog meta key an engine spec may set (engineToMeta sets those of its engine). */
export const ENGINE_META_KEYS = ['engine', 'hnsw_m', 'hnsw_ef_construction', 'hnsw_seed', 'vector_quantization'];

/** The catalog meta keys of an engine spec. */
export function engineToMeta(spec: EngineSpec): Record<string, string | number> {
  if (spec.name === 'ivf') return { engine: 'ivf' };
  const common = { engine: spec.name, hnsw_m: spec.M, hnsw_ef_construction: spec.efConstruction };
  return spec.name === 'hnswlib' ? { ...common, hnsw_seed: spec.seed } : { ...common, vector_quantization: spec.quantization };
}

/** The engine an index records; an index from before `engine` was recorded used hnswlib. */
export function engineFromMeta(meta: ReadonlyMap<string, string>, location: string): EngineSpec {
  const name = meta.get('engine') ?? 'hnswlib';
  if (name === 'ivf') return { name };
  const common = { M: Number(meta.get('hnsw_m')), efConstruction: Number(meta.get('hnsw_ef_construction')) };
  if (name === 'hnswlib') return { name, ...common, seed: Number(meta.get('hnsw_seed')) };
  const quantization = meta.get('vector_quantization') as VectorQuantization | undefined;
  if (name === 'usearch' && quantization && VECTOR_QUANTIZATIONS.includes(quantization)) return { name, ...common, quantization };
  throw new RsclipError('INDEX_INCOMPATIBLE', `index ${location} uses the vector engine "${name}"${quantization ? ` with ${quantization} vectors` : ''}; this rsclip has ${ENGINE_NAMES.join(', ')}`, { hint: 'update rsclip' });
}
