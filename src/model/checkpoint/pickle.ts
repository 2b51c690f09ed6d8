/**
 * A restricted unpickler: it understands exactly what `torch.save(state_dict)` writes
 * (protocol 2 opcodes for containers and scalars, persistent ids for storages, and calls
 * to an allow-list of globals) and refuses everything else before anything happens.
 * Nothing from the file is ever executed: a GLOBAL that is not on the caller's
 * allow-list fails with CHECKPOINT_UNSAFE the moment it is read, and REDUCE/BUILD only
 * dispatch to handlers the caller supplies.
 */
import { RsclipError } from '../../errors.js';

/** A reference to a Python global (`module.name`) that the allow-list accepted. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A Python tuple (kept apart from lists so callers can tell the two apart). */
export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | Map<PickleValue, PickleValue>
  | PickleGlobal
  | { readonly pickleObject: unknown };

export interface UnpickleHandlers {
  /** Fully qualified names (`collections.OrderedDict`) that GLOBAL/STACK_GLOBAL may load. */
  allowedGlobals: ReadonlySet<string>;
  /** REDUCE: called with an allowed global and its argument tuple. */
  call(callable: PickleGlobal, args: PickleValue[]): PickleValue;
  /** BINPERSID / PERSID: turns a persistent id into a value (torch: storages). */
  persistentLoad(pid: PickleValue): PickleValue;
  /** BUILD: returns the object after applying `state`; throw to refuse. */
  build(target: PickleValue, state: PickleValue): PickleValue;
}

export interface UnpickleResult {
  value: PickleValue;
  /** Offset just past the STOP opcode (legacy torch files hold several pickles in a row). */
  end: number;
}

const MARK = Symbol('mark');
/**
 * Longest LONG1/LONG4 integer accepted, in bytes. A state dict holds sizes, offsets and the
 * legacy format's 10-byte magic number; building a BigInt from a long run of bytes costs time
 * quadratic in its length, so a file could otherwise stall the reader with one opcode.
 */
const MAX_LONG_BYTES = 64;
type StackItem = PickleValue | typeof MARK;

function invalid(what: string, source: string): RsclipError {
  return new RsclipError('CHECKPOINT_INVALID', `${source}: malformed pickle (${what})`, {
    hint: 'the file is damaged or not a PyTorch checkpoint; download it again',
  });
}

export function unsafe(what: string, source: string): RsclipError {
  return new RsclipError('CHECKPOINT_UNSAFE', `${source} refers to ${what}, which a state dict never needs; refusing to load it (nothing was executed)`, {
    hint: 'only load checkpoints you trust; convert it to model.safetensors with a trusted tool',
  });
}

/** Unpickles one pickle starting at `start`; `source` names the file in error messages. */
export function unpickle(bytes: Uint8Array, handlers: UnpickleHandlers, source: string, start = 0): UnpickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  let pos = start;
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();

  const need = (n: number): void => {
    if (pos + n > bytes.length) throw invalid(`truncated at byte ${pos}`, source);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const take = (n: number): Uint8Array => {
    // a negative length (BINSTRING/LONG4 carry signed ones) would move `pos` backwards forever
    if (!Number.isSafeInteger(n) || n < 0) throw invalid(`negative or impossible length ${n} at byte ${pos}`, source);
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) throw invalid('unterminated text argument', source);
    const text = latin1.decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return text;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return decoder.decode(b);
    } catch {
      throw invalid('string is not UTF-8', source);
    }
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw invalid('stack underflow', source);
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw invalid('stack underflow', source);
    return v;
  };
  const popMark = (): PickleValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw invalid('MARK missing', source);
    const items = stack.splice(at) as PickleValue[];
    items.shift();
    return items;
  };
  const loadGlobal = (module: string, name: string): PickleGlobal => {
    const qualified = `${module}.${name}`;
    if (!handlers.allowedGlobals.has(qualified)) throw unsafe(`the Python global ${qualified}`, source);
    return new PickleGlobal(module, name);
  };
  const asMap = (v: PickleValue, op: string): Map<PickleValue, PickleValue> => {
    if (!(v instanceof Map)) throw invalid(`${op} on a non-dict`, source);
    return v;
  };
  const longFrom = (b: Uint8Array): number | bigint => {
    if (b.length > MAX_LONG_BYTES) throw invalid(`a ${b.length}-byte integer at byte ${pos - b.length} (at most ${MAX_LONG_BYTES})`, source);
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw invalid('unsupported protocol', source);
        break;
      case 0x95: // FRAME (protocol 4): the frame length is advisory
        take(8);
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x49: {
        // INT (text): protocol 0, also encodes True/False as 01/00
        const text = line();
        if (text === '01') stack.push(true);
        else if (text === '00') stack.push(false);
        else {
          const n = Number(text);
          if (!Number.isInteger(n)) throw invalid(`bad INT ${text}`, source);
          stack.push(n);
        }
        break;
      }
      case 0x8a: // LONG1
        stack.push(longFrom(take(u8())));
        break;
      case 0x8b: {
        // LONG4: refuse the length before taking (and so before checking) that many bytes
        const n = i32();
        if (n > MAX_LONG_BYTES) throw invalid(`a ${n}-byte integer at byte ${at} (at most ${MAX_LONG_BYTES})`, source);
        stack.push(longFrom(take(n)));
        break;
      }
      case 0x47: {
        // BINFLOAT: big-endian double
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8())));
        break;
      case 0x8d: {
        // BINUNICODE8
        need(8);
        const n = Number(view.getBigUint64(pos, true));
        pos += 8;
        stack.push(utf8(take(n)));
        break;
      }
      case 0x54: // BINSTRING (py2 str): latin-1
        stack.push(latin1.decode(take(i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PickleTuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(new PickleTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PickleTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PickleTuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(new PickleTuple(popMark()));
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const dict = new Map<PickleValue, PickleValue>();
        for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i]!, items[i + 1]!);
        stack.push(dict);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) throw invalid('APPEND on a non-list', source);
        list.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) throw invalid('APPENDS on a non-list', source);
        // a loop, not push(...items): spreading a long run of items overflows the call stack
        for (const item of items) list.push(item);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        asMap(top(), 'SETITEM').set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const dict = asMap(top(), 'SETITEMS');
        for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i]!, items[i + 1]!);
        break;
      }
      case 0x30: // POP
        stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: // PUT (text)
        memo.set(Number(line()), top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET (text)
        const key = op === 0x68 ? u8() : op === 0x6a ? u32() : Number(line());
        if (!memo.has(key)) throw invalid(`memo key ${key} missing`, source);
        stack.push(memo.get(key)!);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(loadGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw invalid('STACK_GLOBAL needs two strings', source);
        stack.push(loadGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        if (!(callable instanceof PickleGlobal)) throw unsafe('a call of a non-global object', source);
        if (!(args instanceof PickleTuple)) throw invalid('REDUCE arguments are not a tuple', source);
        stack.push(handlers.call(callable, args.items));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(handlers.persistentLoad(pop()));
        break;
      case 0x50: // PERSID (text)
        stack.push(handlers.persistentLoad(line()));
        break;
      case 0x62: {
        // BUILD
        const state = pop();
        const target = pop();
        stack.push(handlers.build(target, state));
        break;
      }
      case 0x69: // INST
      case 0x6f: // OBJ
      case 0x81: // NEWOBJ
      case 0x92: // NEWOBJ_EX
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw unsafe(`pickle opcode 0x${op.toString(16)} (object construction) at byte ${at}`, source);
      default:
        throw invalid(`unsupported opcode 0x${op.toString(16)} at byte ${at}`, source);
    }
  }
}
