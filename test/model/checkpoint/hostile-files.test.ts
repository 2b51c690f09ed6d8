/**
 * Checkpoint files made to exhaust the reader (issue 10, item 7): each is read in a child process
 * with a 256 MiB V8 heap, and must be refused with CHECKPOINT_INVALID while the child's peak
 * memory stays small. A reader that loops (negative pickle lengths) dies of heap exhaustion
 * there; one that allocates what a view or a zip entry claims shows it in its peak RSS.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { constants, crc32, inflateRawSync, deflateRawSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTorchCheckpoint } from '../../../src/model/checkpoint/index.js';
import { REPO_ROOT } from '../../fixtures/cli.js';
import { PickleBuilder } from '../../fixtures/torch-writer.js';

/** Far below what the attacks cost on a reader without the checks (1.1 to 4.2 GB), far above a refusal (~100 MiB). */
const MAX_RSS_MIB = 400;
const CHILD = path.join(import.meta.dirname, 'read-in-child.ts');

interface ChildReport {
  outcome?: 'loaded' | 'refused';
  code?: string;
  message?: string;
  maxRssMiB?: number;
  exit: number | null;
  stderr: string;
}

function readInChild(file: string): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', CHILD, file], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (exit) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      resolve({ ...(line.startsWith('{') ? (JSON.parse(line) as object) : {}), exit, stderr: stderr.slice(-2000) });
    });
  });
}

async function expectRefusedCheaply(file: string, message: RegExp): Promise<void> {
  const report = await readInChild(file);
  expect(report.outcome, `child exited ${report.exit}: ${report.stderr}`).toBe('refused');
  expect(report.code).toBe('CHECKPOINT_INVALID');
  expect(report.message).toMatch(message);
  expect(report.maxRssMiB).toBeLessThan(MAX_RSS_MIB);
}

interface ZipEntrySpec {
  name: string;
  /** The bytes as stored in the archive (already deflated for method 8). */
  data: Uint8Array;
  method: 0 | 8;
  /** The uncompressed size the entry declares. */
  size: number;
}

/**
 * A zip written field by field, so that an entry can declare any size. Stored entries carry their
 * CRC-32, which the reader checks; deflated ones carry 0, as the reader refuses the hostile ones
 * here while inflating, before it gets to the CRC.
 */
function zipBytes(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    const crc = e.method === 0 ? crc32(e.data) : 0;
    local.writeUInt16LE(e.method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(e.data));
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const stored = (name: string, data: Uint8Array): ZipEntrySpec => ({ name, data, method: 0, size: data.length });

/** `{'weight': _rebuild_tensor_v2(storage '0' of `numel` floats, offset, shape, stride)}` as torch.save pickles it. */
function oneTensorPickle(numel: number, offset: number, shape: number[], stride: number[]): Uint8Array {
  return new PickleBuilder()
    .op(0x80, 2, 0x7d)
    .str('weight')
    .global('torch._utils', '_rebuild_tensor_v2')
    .op(0x28)
    .op(0x28)
    .str('storage')
    .global('torch', 'FloatStorage')
    .str('0')
    .str('cpu')
    .int(numel)
    .op(0x74, 0x51)
    .int(offset)
    .intTuple(shape)
    .intTuple(stride)
    .op(0x89)
    .global('collections', 'OrderedDict')
    .op(0x29, 0x52, 0x74, 0x52, 0x73, 0x2e)
    .bytes();
}

const version = stored('archive/version', Buffer.from('3\n'));

/**
 * Raw deflate of `mib` MiB of zeros, built from one compressed MiB repeated: each copy only
 * refers back to zeros, so the copies chain into one valid stream (ended by an empty final block).
 */
function zeroBomb(mib: number): Buffer {
  const chunk = deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  return Buffer.concat([...Array.from({ length: mib }, () => chunk), Buffer.from([0x03, 0x00])]);
}

describe('checkpoint files made to exhaust the reader', () => {
  let dir: string;
  const file = (name: string): string => path.join(dir, name);
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rsclip-hostile-ckpt-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a pytorch_model.bin whose pickle has LONG4 with length -5 (a reader that steps back loops forever)', async () => {
    const pickle = Uint8Array.from([0x80, 0x02, 0x8b, 0xfb, 0xff, 0xff, 0xff, 0x2e]);
    const bytes = zipBytes([stored('archive/data.pkl', pickle), version]);
    expect(bytes.length).toBeLessThan(300);
    await writeFile(file('long4.bin'), bytes);
    await expectRefusedCheaply(file('long4.bin'), /negative or impossible length -5/);
  });

  it('refuses a legacy pytorch_model.bin whose pickle has BINSTRING with length -5', async () => {
    await writeFile(file('binstring.bin'), Uint8Array.from([0x80, 0x02, 0x54, 0xfb, 0xff, 0xff, 0xff, 0x2e]));
    await expectRefusedCheaply(file('binstring.bin'), /negative or impossible length -5/);
  });

  it('refuses a 1-element storage viewed with stride 0 as 550 million elements (a file under 1 KB asking for 2.2 GB)', async () => {
    const bytes = zipBytes([stored('archive/data.pkl', oneTensorPickle(1, 0, [550_000_000], [0])), stored('archive/data/0', new Uint8Array(4)), version]);
    expect(bytes.length).toBeLessThan(1000);
    await writeFile(file('stride0.bin'), bytes);
    await expectRefusedCheaply(file('stride0.bin'), /tensor weight has sizes \[550000000\] with strides \[0\], which address some elements more than once/);
  });

  it('refuses a 2 MB safetensors whose 1,000 entries share one data range (4.2 GB once widened)', async () => {
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) header[`t${i}`] = { dtype: 'F16', shape: [1 << 20], data_offsets: [0, 2 << 20] };
    const json = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    await writeFile(file('shared.safetensors'), Buffer.concat([prefix, json, Buffer.alloc(2 << 20)]));
    await expectRefusedCheaply(file('shared.safetensors'), /tensors "t\d+" and "t\d+" overlap/);
  });

  it('refuses a 1 MB zip bomb whose storage inflates to 1.15 GB', async () => {
    expect(inflateRawSync(zeroBomb(3)).length).toBe(3 << 20);
    const mib = 1100;
    const bomb = zeroBomb(mib);
    const numel = (mib << 20) / 4;
    const bytes = zipBytes([
      stored('archive/data.pkl', oneTensorPickle(numel, 0, [numel], [1])),
      { name: 'archive/data/0', data: bomb, method: 8, size: mib << 20 },
      version,
    ]);
    expect(bytes.length).toBeLessThan(1.5e6);
    await writeFile(file('bomb.bin'), bytes);
    await expectRefusedCheaply(file('bomb.bin'), /inflate .* to 1153433600, past what a \d+-byte checkpoint can hold \(a zip bomb\?\)/);
  });

  it('refuses a deflated entry that inflates past the size it declares', async () => {
    const bytes = zipBytes([
      stored('archive/data.pkl', oneTensorPickle(16, 0, [16], [1])),
      { name: 'archive/data/0', data: zeroBomb(2), method: 8, size: 64 },
      version,
    ]);
    await writeFile(file('liar.bin'), bytes);
    await expect(readTorchCheckpoint(file('liar.bin'))).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID', message: expect.stringMatching(/does not inflate to its declared 64 bytes/) });
  });

  it('refuses views of one storage that together claim more than it holds, and reads the same view twice (tied weights) once', async () => {
    const twoViews = (numel: number, secondOffset: number): Uint8Array => {
      const p = new PickleBuilder().op(0x80, 2, 0x7d);
      for (const [name, offset] of [['a', 0], ['b', secondOffset]] as const) {
        p.str(name).global('torch._utils', '_rebuild_tensor_v2').op(0x28, 0x28).str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(numel);
        p.op(0x74, 0x51).int(offset).intTuple([2, 2]).intTuple([2, 1]).op(0x89).global('collections', 'OrderedDict').op(0x29, 0x52, 0x74, 0x52, 0x73);
      }
      return p.op(0x2e).bytes();
    };
    const write = async (name: string, numel: number, secondOffset: number): Promise<string> => {
      const storage = new Uint8Array(Float32Array.from({ length: numel }, (_, i) => i).buffer);
      await writeFile(file(name), zipSync({ 'archive/data.pkl': [twoViews(numel, secondOffset), { level: 0 }], 'archive/data/0': [storage, { level: 0 }] }));
      return file(name);
    };
    await expect(readTorchCheckpoint(await write('overlap.bin', 6, 2))).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID', message: expect.stringMatching(/claim 8 elements of the 6 it holds/) });
    const apart = await readTorchCheckpoint(await write('apart.bin', 8, 4));
    expect([...apart.get('b')!.data]).toEqual([4, 5, 6, 7]);
    const tied = await readTorchCheckpoint(await write('tied.bin', 6, 0));
    expect([...tied.get('b')!.data]).toEqual([0, 1, 2, 3]);
    expect(tied.get('b')!.data).toBe(tied.get('a')!.data);
  });

  it('refuses an integer opcode thousands of bytes long (building it would take quadratic time)', async () => {
    const long = Buffer.alloc(5 + 100_000);
    long[0] = 0x8b;
    long.writeInt32LE(100_000, 1);
    const pickle = Buffer.concat([Buffer.from([0x80, 0x02]), long, Buffer.from([0x2e])]);
    await writeFile(file('long.bin'), zipSync({ 'archive/data.pkl': [pickle, { level: 0 }] }));
    await expect(readTorchCheckpoint(file('long.bin'))).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID', message: expect.stringMatching(/a 100000-byte integer/) });
  });
});
