/**
 * Reads `pytorch_model.bin` as written by `torch.save(state_dict)`. Since torch 1.6 that is a
 * zip holding `<archive>/data.pkl` (the pickled state dict, storages as persistent ids),
 * `<archive>/data/<key>` (raw storage bytes) and optionally `<archive>/byteorder`. Before,
 * it was the legacy stream: pickles of a magic number, the protocol version, sys_info, the
 * state dict and the storage keys, then each storage as an int64 element count + raw bytes.
 * The pickle goes through the restricted unpickler in pickle.ts: only the globals a state
 * dict needs are allowed, nothing from the file runs. Float tensors (float32/16, bfloat16,
 * float64) come back as contiguous float32; integer and bool buffers (`position_ids`) are
 * dropped.
 */
import { readFile } from 'node:fs/promises';
import { RsclipError } from '../../errors.js';
import { PickleGlobal, PickleTuple, unpickle, unsafe, type PickleValue, type UnpickleHandlers } from './pickle.js';
import { elementCount, gatherView, viewProblem, type StridedView } from './strided-view.js';
import type { Tensor, TensorMap } from './tensor.js';
import { ZipArchive } from './torch-zip.js';

type StoredDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const ELEMENT_BYTES: Record<StoredDtype, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const STORAGE_DTYPES: Record<string, StoredDtype> = {
  'torch.FloatStorage': 'float32',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
  'torch.DoubleStorage': 'float64',
  'torch.LongStorage': 'int64',
  'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16',
  'torch.CharStorage': 'int8',
  'torch.ByteStorage': 'uint8',
  'torch.BoolStorage': 'bool',
  'torch.UntypedStorage': 'uint8',
};

/** `torch.float32` etc.: the dtype argument of `_rebuild_tensor_v3`. */
const TORCH_DTYPES: Record<string, StoredDtype> = {
  'torch.float32': 'float32',
  'torch.float': 'float32',
  'torch.float16': 'float16',
  'torch.half': 'float16',
  'torch.bfloat16': 'bfloat16',
  'torch.float64': 'float64',
  'torch.double': 'float64',
  'torch.int64': 'int64',
  'torch.long': 'int64',
  'torch.int32': 'int32',
  'torch.int16': 'int16',
  'torch.int8': 'int8',
  'torch.uint8': 'uint8',
  'torch.bool': 'bool',
};

const REBUILD_TENSOR_V2 = 'torch._utils._rebuild_tensor_v2';
const REBUILD_TENSOR_V3 = 'torch._utils._rebuild_tensor_v3';
const REBUILD_PARAMETER = 'torch._utils._rebuild_parameter';
const REBUILD_PARAMETER_WITH_STATE = 'torch._utils._rebuild_parameter_with_state';
const ORDERED_DICT = 'collections.OrderedDict';

const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  ORDERED_DICT,
  REBUILD_TENSOR_V2,
  REBUILD_TENSOR_V3,
  REBUILD_PARAMETER,
  REBUILD_PARAMETER_WITH_STATE,
  ...Object.keys(STORAGE_DTYPES),
  ...Object.keys(TORCH_DTYPES),
]);

const isFloat = (d: StoredDtype): boolean => d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';

/** A storage as the pickle names it; its bytes are read only when a float tensor needs them. */
interface StorageRef {
  readonly kind: 'storage';
  key: string;
  dtype: StoredDtype;
  /** Legacy files only: a storage can be a view into another one, starting at this element. */
  elementOffset: number;
}

/** A tensor described by the pickle, materialised after unpickling. */
interface TensorRef {
  readonly kind: 'tensor';
  storage: StorageRef;
  dtype: StoredDtype;
  offset: number;
  shape: number[];
  stride: number[];
}

type TorchObject = StorageRef | TensorRef;
const wrap = (o: TorchObject): PickleValue => ({ pickleObject: o });
const unwrap = (v: PickleValue): TorchObject | undefined =>
  v !== null && typeof v === 'object' && 'pickleObject' in v ? (v.pickleObject as TorchObject) : undefined;

function invalid(file: string, what: string): RsclipError {
  return new RsclipError('CHECKPOINT_INVALID', `${file}: ${what}`, {
    hint: 'the file is damaged or not a PyTorch state dict; download it again or use model.safetensors',
  });
}

function intTuple(v: PickleValue, file: string, what: string): number[] {
  if (!(v instanceof PickleTuple) || !v.items.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
    throw invalid(file, `${what} is not a tuple of non-negative integers`);
  }
  return v.items as number[];
}

/** `storageDtypes` collects the dtype of every storage key the pickle names. */
function handlersFor(file: string, storageDtypes: Map<string, StoredDtype>): UnpickleHandlers {
  const tensorFrom = (args: PickleValue[], dtypeOverride: StoredDtype | undefined): PickleValue => {
    const storage = unwrap(args[0] ?? null);
    if (storage?.kind !== 'storage') throw invalid(file, 'tensor rebuild without a storage');
    const offset = args[1];
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw invalid(file, 'bad storage offset');
    const shape = intTuple(args[2] ?? null, file, 'tensor size');
    const stride = intTuple(args[3] ?? null, file, 'tensor stride');
    if (shape.length !== stride.length) throw invalid(file, `tensor size ${shape.length}-d but stride ${stride.length}-d`);
    return wrap({ kind: 'tensor', storage, dtype: dtypeOverride ?? storage.dtype, offset, shape, stride });
  };
  return {
    allowedGlobals: ALLOWED_GLOBALS,
    call(callable, args) {
      switch (callable.qualifiedName) {
        case ORDERED_DICT: {
          const dict = new Map<PickleValue, PickleValue>();
          const items = args[0];
          if (Array.isArray(items)) {
            for (const pair of items) {
              if (pair instanceof PickleTuple && pair.items.length === 2) dict.set(pair.items[0]!, pair.items[1]!);
            }
          }
          return dict;
        }
        case REBUILD_TENSOR_V2:
          return tensorFrom(args, undefined);
        case REBUILD_TENSOR_V3: {
          const dtype = args[6];
          const name = dtype instanceof PickleGlobal ? TORCH_DTYPES[dtype.qualifiedName] : undefined;
          if (!name) throw invalid(file, '_rebuild_tensor_v3 without a known dtype');
          return tensorFrom(args, name);
        }
        case REBUILD_PARAMETER:
        case REBUILD_PARAMETER_WITH_STATE: {
          const data = args[0] ?? null;
          if (unwrap(data)?.kind !== 'tensor') throw invalid(file, 'parameter rebuild without a tensor');
          return data;
        }
        default:
          throw unsafe(`a call of ${callable.qualifiedName}`, file);
      }
    },
    persistentLoad(pid) {
      // zip: ('storage', storage_type, key, location, numel)
      // legacy: ('storage', storage_type, root_key, location, numel, view_metadata | None)
      if (!(pid instanceof PickleTuple) || pid.items[0] !== 'storage') throw unsafe('a persistent id that is not a storage', file);
      const [, type, key, , , view] = pid.items;
      const dtype = type instanceof PickleGlobal ? STORAGE_DTYPES[type.qualifiedName] : undefined;
      if (!dtype || typeof key !== 'string') throw invalid(file, 'storage persistent id without a storage type and key');
      storageDtypes.set(key, dtype);
      let elementOffset = 0;
      if (view instanceof PickleTuple) {
        const offset = view.items[1];
        if (typeof offset !== 'number' || offset < 0) throw invalid(file, `storage view of ${key} has a bad offset`);
        elementOffset = offset;
      }
      return wrap({ kind: 'storage', key, dtype, elementOffset });
    },
    build(target, _state) {
      // OrderedDict state is `_metadata` (module versions); tensor state is hooks metadata.
      if (target instanceof Map || unwrap(target)?.kind === 'tensor') return target;
      throw unsafe('BUILD on an object that is not a dict or tensor', file);
    },
  };
}

function widenToFloat32(bytes: Uint8Array, dtype: StoredDtype, littleEndian: boolean): Float32Array {
  const n = Math.floor(bytes.length / ELEMENT_BYTES[dtype]);
  if (dtype === 'float32' && littleEndian) {
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
    return new Float32Array(aligned.buffer, aligned.byteOffset, n);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  const scratch = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < n; i++) {
    if (dtype === 'float32') out[i] = view.getFloat32(i * 4, littleEndian);
    else if (dtype === 'float64') out[i] = view.getFloat64(i * 8, littleEndian);
    else if (dtype === 'bfloat16') {
      scratch.setUint32(0, view.getUint16(i * 2, littleEndian) << 16);
      out[i] = scratch.getFloat32(0);
    } else out[i] = halfToFloat(view.getUint16(i * 2, littleEndian));
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Training checkpoints wrap the state dict once or twice (`{'model': {'state_dict': ...}}`); a memo can make a dict hold itself. */
const MAX_WRAPPING = 4;

/** The state dict: the top-level dict, or the one under `state_dict` / `model` when wrapped. */
function stateDictOf(root: PickleValue, file: string, depth = 0): Map<PickleValue, PickleValue> {
  if (!(root instanceof Map)) throw invalid(file, 'the pickled object is not a dict of tensors');
  const hasTensor = [...root.values()].some((v) => unwrap(v)?.kind === 'tensor');
  if (!hasTensor && depth < MAX_WRAPPING) {
    for (const key of ['state_dict', 'model']) {
      const inner = root.get(key);
      if (inner instanceof Map) return stateDictOf(inner, file, depth + 1);
    }
  }
  return root;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** The unpickled state dict plus a way to get each storage's raw bytes. */
interface CheckpointContents {
  root: PickleValue;
  littleEndian: boolean;
  readStorage: (key: string) => Uint8Array | undefined;
}

function zipContents(bytes: Uint8Array, file: string): CheckpointContents {
  const zip = new ZipArchive(bytes, file);
  const pkl = zip.names.find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pkl) throw invalid(file, `zip has no data.pkl (entries: ${zip.names.slice(0, 5).join(', ')})`);
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const byteorder = zip.has(`${prefix}byteorder`) ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim() : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') throw invalid(file, `unknown byteorder "${byteorder}"`);
  const { value } = unpickle(zip.read(pkl)!, handlersFor(file, new Map()), file);
  return { root: value, littleEndian: byteorder === 'little', readStorage: (key) => zip.read(`${prefix}data/${key}`) };
}

function legacyContents(bytes: Uint8Array, file: string): CheckpointContents {
  const storageDtypes = new Map<string, StoredDtype>();
  const handlers = handlersFor(file, storageDtypes);
  let pos = 0;
  const next = (): PickleValue => {
    const result = unpickle(bytes, handlers, file, pos);
    pos = result.end;
    return result.value;
  };
  const magic = next();
  if (magic !== LEGACY_MAGIC) throw invalid(file, 'not a torch.save file (neither a zip nor the legacy magic number)');
  const protocol = next();
  if (protocol !== LEGACY_PROTOCOL) throw invalid(file, `legacy torch.save protocol ${String(protocol)}, expected ${LEGACY_PROTOCOL}`);
  const sysInfo = next();
  const littleEndian = !(sysInfo instanceof Map) || sysInfo.get('little_endian') !== false;
  const root = next();
  const keys = next();
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw invalid(file, 'legacy storage key list is missing');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storages = new Map<string, Uint8Array>();
  for (const key of keys as string[]) {
    const dtype = storageDtypes.get(key);
    if (!dtype || pos + 8 > bytes.length) throw invalid(file, `legacy storage ${key} is missing or has no type`);
    const length = Number(view.getBigInt64(pos, littleEndian)) * ELEMENT_BYTES[dtype];
    pos += 8;
    if (length < 0 || pos + length > bytes.length) throw invalid(file, `legacy storage ${key} runs past the end of the file (truncated?)`);
    storages.set(key, bytes.subarray(pos, pos + length));
    pos += length;
  }
  return { root, littleEndian, readStorage: (key) => storages.get(key) };
}

/** Reads a torch.save checkpoint (zip or legacy); float tensors only, widened to float32. */
export async function readTorchCheckpoint(file: string): Promise<TensorMap> {
  const bytes: Uint8Array = await readFile(file);
  let contents: CheckpointContents;
  if (ZIP_MAGIC.every((b, i) => bytes[i] === b)) contents = zipContents(bytes, file);
  else if (bytes[0] === 0x80) contents = legacyContents(bytes, file);
  else throw invalid(file, 'not a torch.save file (expected a zip holding data.pkl, or a legacy pickle stream)');
  const stateDict = stateDictOf(contents.root, file);

  // First every float tensor's view is checked against its storage's real size, so that
  // nothing is widened or copied for a file whose views ask for more than it holds.
  const raw = new Map<string, Uint8Array>();
  const claimed = new Map<string, number>();
  const planned: { name: string; ref: TensorRef; view: StridedView; viewKey: string }[] = [];
  const viewKeys = new Set<string>();
  for (const [key, v] of stateDict) {
    const t = unwrap(v);
    if (t?.kind !== 'tensor') continue;
    if (typeof key !== 'string') throw invalid(file, 'state dict key is not a string');
    if (!isFloat(t.dtype)) continue;
    let bytes = raw.get(t.storage.key);
    if (!bytes) {
      bytes = contents.readStorage(t.storage.key);
      if (!bytes) throw invalid(file, `storage ${t.storage.key} of tensor ${key} is missing`);
      raw.set(t.storage.key, bytes);
    }
    const storageLength = Math.floor(bytes.length / ELEMENT_BYTES[t.dtype]);
    const view: StridedView = { offset: t.offset + t.storage.elementOffset, shape: t.shape, stride: t.stride };
    const problem = viewProblem(view, storageLength);
    if (problem) throw invalid(file, `tensor ${key} ${problem}`);
    // the same view twice (tied weights) is read once; different views must not overlap
    const viewKey = JSON.stringify([t.storage.key, t.dtype, view]);
    if (!viewKeys.has(viewKey)) {
      viewKeys.add(viewKey);
      const total = (claimed.get(t.storage.key) ?? 0) + elementCount(t.shape);
      if (total > storageLength) {
        throw invalid(file, `the tensors in storage ${t.storage.key} claim ${total} elements of the ${storageLength} it holds: they overlap, which a state dict never needs`);
      }
      claimed.set(t.storage.key, total);
    }
    planned.push({ name: key, ref: t, view, viewKey });
  }

  const storages = new Map<string, Float32Array>();
  const gathered = new Map<string, Float32Array>();
  const tensors: TensorMap = new Map();
  for (const { name, ref, view, viewKey } of planned) {
    let data = gathered.get(viewKey);
    if (!data) {
      let storage = storages.get(ref.storage.key);
      if (!storage) {
        storage = widenToFloat32(raw.get(ref.storage.key)!, ref.dtype, contents.littleEndian);
        storages.set(ref.storage.key, storage);
      }
      data = gatherView(storage, view);
      gathered.set(viewKey, data);
    }
    const tensor: Tensor = { shape: ref.shape, data };
    tensors.set(name, tensor);
  }
  return tensors;
}
