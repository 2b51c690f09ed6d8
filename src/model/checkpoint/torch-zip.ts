/**
 * Random access to the entries of a zip held in memory, as torch.save writes it: entries
 * are usually stored uncompressed, so they are returned as views into the file's bytes
 * without copying (a 600 MB checkpoint is not duplicated); deflated entries are inflated
 * with zlib, never past their declared size and never past a budget tied to the file's
 * size (a zip bomb is refused before its output is allocated). Every entry is checked against
 * the CRC-32 its central directory records, as Python's zipfile does, so a flipped byte in the
 * weights is refused rather than exported. Zip64 (archives or entries past 4 GiB) is understood.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { RsclipError } from '../../errors.js';

interface ZipEntry {
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_EOCD_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;

/**
 * All deflated entries together may expand to this many times the archive's size, plus the
 * floor below. torch.save stores entries uncompressed; a zip tool recompressing trained
 * float weights gains about 1.1x, and a zero-filled buffer more, but no checkpoint needs
 * 32x. A zip bomb reaches about 1000x.
 */
const MAX_INFLATE_RATIO = 32;

const hex32 = (value: number): string => value.toString(16).padStart(8, '0');
const INFLATE_FLOOR_BYTES = 16 * 1024 * 1024;

export class ZipArchive {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #entries = new Map<string, ZipEntry>();
  /** Entries whose CRC-32 was checked once already (the pickle and each storage are read once, but not only once). */
  readonly #checked = new Set<string>();
  #inflateBudget: number;

  constructor(
    bytes: Uint8Array,
    private readonly source: string,
  ) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#inflateBudget = INFLATE_FLOOR_BYTES + MAX_INFLATE_RATIO * bytes.length;
    this.#readCentralDirectory();
  }

  get names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The entry's bytes (a view into the archive for stored entries), or undefined when absent. */
  read(name: string): Uint8Array | undefined {
    const entry = this.#entries.get(name);
    if (!entry) return undefined;
    const at = entry.localHeaderOffset;
    if (at + 30 > this.#bytes.length || this.#u32(at) !== LOCAL_HEADER) throw this.#invalid(`entry ${name} has no local header`);
    const start = at + 30 + this.#u16(at + 26) + this.#u16(at + 28);
    const end = start + entry.compressedSize;
    if (end > this.#bytes.length) throw this.#invalid(`entry ${name} runs past the end of the file (truncated?)`);
    const data = this.#bytes.subarray(start, end);
    let content: Uint8Array;
    if (entry.method === 0) {
      if (entry.size !== entry.compressedSize) throw this.#invalid(`stored entry ${name} declares ${entry.size} bytes but holds ${entry.compressedSize}`);
      content = data;
    } else if (entry.method === 8) content = this.#inflate(name, data, entry.size);
    else throw this.#invalid(`entry ${name} uses unsupported compression method ${entry.method}`);
    this.#checkCrc(name, entry, content);
    return content;
  }

  #checkCrc(name: string, entry: ZipEntry, content: Uint8Array): void {
    if (this.#checked.has(name)) return;
    const actual = crc32(content) >>> 0;
    if (actual !== entry.crc32) {
      throw this.#invalid(`entry ${name} fails its CRC-32 check (recorded ${hex32(entry.crc32)}, computed ${hex32(actual)}): its bytes were changed`);
    }
    this.#checked.add(name);
  }

  #inflate(name: string, data: Uint8Array, size: number): Uint8Array {
    if (size > this.#inflateBudget) {
      throw this.#invalid(
        `entry ${name} would inflate ${data.length} bytes to ${size}, past what a ${this.#bytes.length}-byte checkpoint can hold (a zip bomb?)`,
      );
    }
    this.#inflateBudget -= size;
    let out: Buffer;
    try {
      // zlib stops as soon as the output would pass the declared size
      out = inflateRawSync(data, { maxOutputLength: Math.max(size, 1) });
    } catch (cause) {
      throw this.#invalid(`entry ${name} does not inflate to its declared ${size} bytes (${(cause as Error).message})`);
    }
    if (out.length !== size) throw this.#invalid(`entry ${name} inflates to ${out.length} bytes, not the ${size} it declares`);
    return out;
  }

  #u16(at: number): number {
    return this.#view.getUint16(at, true);
  }

  #u32(at: number): number {
    return this.#view.getUint32(at, true);
  }

  #u64(at: number): number {
    return Number(this.#view.getBigUint64(at, true));
  }

  #invalid(what: string): RsclipError {
    return new RsclipError('CHECKPOINT_INVALID', `${this.source}: damaged zip archive (${what})`, {
      hint: 'download the checkpoint again; the file may be truncated',
    });
  }

  #readCentralDirectory(): void {
    const len = this.#bytes.length;
    let eocd = -1;
    // the end record sits in the last 22 bytes plus an optional comment of up to 64 KiB
    for (let i = len - 22; i >= Math.max(0, len - 22 - 0xffff); i--) {
      if (this.#u32(i) === EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw this.#invalid('no end-of-central-directory record');
    let count = this.#u16(eocd + 10);
    let offset = this.#u32(eocd + 16);
    if ((count === 0xffff || offset === 0xffffffff) && eocd >= 20 && this.#u32(eocd - 20) === ZIP64_EOCD_LOCATOR) {
      const zip64 = this.#u64(eocd - 20 + 8);
      if (zip64 + 56 > len || this.#u32(zip64) !== ZIP64_EOCD) throw this.#invalid('bad zip64 end record');
      count = this.#u64(zip64 + 32);
      offset = this.#u64(zip64 + 48);
    }
    for (let i = 0, at = offset; i < count; i++) {
      if (at + 46 > len || this.#u32(at) !== CENTRAL_HEADER) throw this.#invalid(`central directory entry ${i} is missing`);
      const nameLength = this.#u16(at + 28);
      const extraLength = this.#u16(at + 30);
      const commentLength = this.#u16(at + 32);
      if (at + 46 + nameLength + extraLength + commentLength > len) throw this.#invalid(`central directory entry ${i} runs past the end of the file`);
      const name = new TextDecoder().decode(this.#bytes.subarray(at + 46, at + 46 + nameLength));
      const entry: ZipEntry = {
        method: this.#u16(at + 10),
        crc32: this.#u32(at + 16),
        compressedSize: this.#u32(at + 20),
        size: this.#u32(at + 24),
        localHeaderOffset: this.#u32(at + 42),
      };
      this.#applyZip64Extra(entry, at + 46 + nameLength, extraLength);
      this.#entries.set(name, entry);
      at += 46 + nameLength + extraLength + commentLength;
    }
  }

  /** Zip64 extra field (id 1): 64-bit values for whichever 32-bit fields are saturated, in order. */
  #applyZip64Extra(entry: ZipEntry, start: number, length: number): void {
    for (let at = start; at + 4 <= start + length; ) {
      const id = this.#u16(at);
      const size = this.#u16(at + 2);
      if (at + 4 + size > start + length) throw this.#invalid('an extra field runs past its entry');
      if (id === 1) {
        const saturated = [entry.size, entry.compressedSize, entry.localHeaderOffset].filter((v) => v === 0xffffffff).length;
        if (8 * saturated > size) throw this.#invalid('a zip64 extra field is shorter than the sizes it replaces');
        let p = at + 4;
        if (entry.size === 0xffffffff) {
          entry.size = this.#u64(p);
          p += 8;
        }
        if (entry.compressedSize === 0xffffffff) {
          entry.compressedSize = this.#u64(p);
          p += 8;
        }
        if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = this.#u64(p);
      }
      at += 4 + size;
    }
  }
}
