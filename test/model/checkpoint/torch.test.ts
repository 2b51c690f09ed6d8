import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRsclipError } from '../../../src/errors.js';
import { loadCheckpointTensors, readSafetensors, readTorchCheckpoint, type TensorMap } from '../../../src/model/checkpoint/index.js';
import { describeShared, sharedPath } from '../../fixtures/shared.js';
import { torchSaveBytes, writeTorchCheckpoint } from '../../fixtures/torch-writer.js';

function sampleTensors(): TensorMap {
  const values = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 0.37) * 3);
  return new Map([
    ['logit_scale', { shape: [], data: values(1, 1) }],
    ['vision_model.embeddings.class_embedding', { shape: [6], data: values(6, 2) }],
    ['visual_projection.weight', { shape: [4, 6], data: values(24, 3) }],
    ['text_model.encoder.layers.0.mlp.fc1.weight', { shape: [3, 5], data: values(15, 4) }],
    ['conv.weight', { shape: [2, 3, 2, 2], data: values(24, 5) }],
  ]);
}

function expectSameTensors(actual: TensorMap, expected: TensorMap, tolerance: number): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, e] of expected) {
    const a = actual.get(name)!;
    expect(a.shape, name).toEqual(e.shape);
    expect(a.data.length, name).toBe(e.data.length);
    let maxDiff = 0;
    for (let i = 0; i < e.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i]! - e.data[i]!));
    expect(maxDiff, name).toBeLessThanOrEqual(tolerance);
  }
}

/** A pickle that would run `command` through `module.name(command)` if executed. */
function maliciousPickle(module: string, name: string, command: string): Uint8Array {
  const call = Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from(`c${module}\n${name}\n`, 'latin1'),
    Buffer.from([0x58]),
    Buffer.from(new Uint32Array([Buffer.byteLength(command)]).buffer),
    Buffer.from(command),
    Buffer.from([0x85, 0x52, 0x2e]), // TUPLE1, REDUCE, STOP
  ]);
  return zipSync({ 'archive/data.pkl': [call, { level: 0 }], 'archive/version': [Buffer.from('3\n'), { level: 0 }] });
}

describe('readTorchCheckpoint', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rsclip-torch-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips a float32 state dict written by the torch.save fixture writer', async () => {
    const file = path.join(dir, 'plain.bin');
    await writeTorchCheckpoint(file, sampleTensors());
    expectSameTensors(await readTorchCheckpoint(file), sampleTensors(), 0);
  });

  it('reads views into one shared storage at storage offsets, and transposed strided views', async () => {
    const file = path.join(dir, 'views.bin');
    await writeTorchCheckpoint(file, sampleTensors(), { sharedStorage: true, transposed2d: true });
    expectSameTensors(await readTorchCheckpoint(file), sampleTensors(), 0);
  });

  it('reads an archive whose entries were deflated (torch stores them, zip tools may not)', async () => {
    const file = path.join(dir, 'deflated.bin');
    const entries = unzipSync(torchSaveBytes(sampleTensors()));
    await writeFile(file, zipSync(Object.fromEntries(Object.entries(entries).map(([name, data]) => [name, [data, { level: 6 }]]))));
    expectSameTensors(await readTorchCheckpoint(file), sampleTensors(), 0);
  });

  it('reads the legacy (torch < 1.6) stream format, views and float16 included', async () => {
    const file = path.join(dir, 'legacy.bin');
    await writeTorchCheckpoint(file, sampleTensors(), { format: 'legacy', sharedStorage: true, transposed2d: true, moduleMetadata: true });
    expectSameTensors(await readTorchCheckpoint(file), sampleTensors(), 0);
    await writeTorchCheckpoint(file, sampleTensors(), {
      format: 'legacy',
      dtype: 'float16',
      int64Buffers: { 'text_model.embeddings.position_ids': { shape: [1, 3], values: [0, 1, 2] } },
    });
    expectSameTensors(await readTorchCheckpoint(file), sampleTensors(), 3 * 2 ** -10);
  });

  it('widens float16 storages to float32', async () => {
    const file = path.join(dir, 'half.bin');
    await writeTorchCheckpoint(file, sampleTensors(), { dtype: 'float16', sharedStorage: true });
    expectSameTensors(await readTorchCheckpoint(file), sampleTensors(), 3 * 2 ** -10);
  });

  it('accepts the _metadata that nn.Module.state_dict() attaches (BUILD on the dict)', async () => {
    const file = path.join(dir, 'metadata.bin');
    await writeTorchCheckpoint(file, sampleTensors(), { moduleMetadata: true });
    expectSameTensors(await readTorchCheckpoint(file), sampleTensors(), 0);
  });

  it('drops int64 buffers such as position_ids', async () => {
    const file = path.join(dir, 'buffers.bin');
    await writeTorchCheckpoint(file, sampleTensors(), {
      int64Buffers: { 'text_model.embeddings.position_ids': { shape: [1, 4], values: [0, 1, 2, 3] } },
    });
    const tensors = await readTorchCheckpoint(file);
    expect(tensors.has('text_model.embeddings.position_ids')).toBe(false);
    expect(tensors.size).toBe(sampleTensors().size);
  });

  for (const [module, name] of [
    ['os', 'system'],
    ['posix', 'system'],
    ['builtins', 'eval'],
  ] as const) {
    it(`refuses a pickle calling ${module}.${name} without running it`, async () => {
      const marker = path.join(dir, `pwned-${module}-${name}`);
      const command = name === 'eval' ? `open(${JSON.stringify(marker)}, "w")` : `touch ${marker}`;
      const file = path.join(dir, `evil-${module}.bin`);
      await writeFile(file, maliciousPickle(module, name, command));
      const error = await readTorchCheckpoint(file).catch((e: unknown) => e);
      expect(isRsclipError(error, 'CHECKPOINT_UNSAFE')).toBe(true);
      expect((error as Error).message).toContain(`${module}.${name}`);
      expect(existsSync(marker)).toBe(false);
    });
  }

  it('refuses a REDUCE of an allowed-looking but unknown torch global', async () => {
    const file = path.join(dir, 'unknown-global.bin');
    await writeFile(file, maliciousPickle('torch', 'load', 'x'));
    await expect(readTorchCheckpoint(file)).rejects.toMatchObject({ code: 'CHECKPOINT_UNSAFE' });
  });

  it('says what it expected for a file that is not a torch zip', async () => {
    const file = path.join(dir, 'not-a-zip.bin');
    await writeFile(file, 'hello');
    await expect(readTorchCheckpoint(file)).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID', message: expect.stringContaining('zip') });
  });

  it('refuses an archive whose tensor data no longer matches its CRC-32, naming the entry', async () => {
    const bytes = Buffer.from(torchSaveBytes(sampleTensors()));
    const storage = Object.keys(unzipSync(bytes)).find((name) => /\/data\/\d+$/.test(name))!;
    // the entry's local header: 30 bytes, its name, its extra field, then the stored bytes
    const header = bytes.indexOf(Buffer.from(storage)) - 30;
    const dataStart = header + 30 + bytes.readUInt16LE(header + 26) + bytes.readUInt16LE(header + 28);
    bytes[dataStart + 1]! ^= 0x01;
    const file = path.join(dir, 'flipped.bin');
    await writeFile(file, bytes);
    await expect(readTorchCheckpoint(file)).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID', message: expect.stringMatching(new RegExp(`${storage}.*CRC-32`)) });
  });
});

describe('loadCheckpointTensors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rsclip-ckpt-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads pytorch_model.bin and drops position_ids', async () => {
    const sub = path.join(dir, 'bin');
    await mkdir(sub);
    await writeFile(
      path.join(sub, 'pytorch_model.bin'),
      torchSaveBytes(sampleTensors(), { int64Buffers: { 'vision_model.embeddings.position_ids': { shape: [1, 2], values: [0, 1] } } }),
    );
    expectSameTensors(await loadCheckpointTensors(sub), sampleTensors(), 0);
  });

  it('reads sharded pytorch_model.bin files through the index weight_map', async () => {
    const sub = path.join(dir, 'sharded');
    await mkdir(sub);
    const entries = [...sampleTensors()];
    const first = new Map(entries.slice(0, 2));
    const second = new Map(entries.slice(2));
    await writeTorchCheckpoint(path.join(sub, 'pytorch_model-00001-of-00002.bin'), first);
    await writeTorchCheckpoint(path.join(sub, 'pytorch_model-00002-of-00002.bin'), second);
    const weightMap = Object.fromEntries([
      ...[...first.keys()].map((k) => [k, 'pytorch_model-00001-of-00002.bin']),
      ...[...second.keys()].map((k) => [k, 'pytorch_model-00002-of-00002.bin']),
    ]);
    await writeFile(path.join(sub, 'pytorch_model.bin.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    expectSameTensors(await loadCheckpointTensors(sub), sampleTensors(), 0);
  });

  it('names the expected files and what it found when a directory has no weights', async () => {
    const sub = path.join(dir, 'empty');
    await mkdir(sub);
    await writeFile(path.join(sub, 'config.json'), '{}');
    await expect(loadCheckpointTensors(sub)).rejects.toMatchObject({
      code: 'CHECKPOINT_INVALID',
      message: expect.stringMatching(/model\.safetensors.*pytorch_model\.bin.*found config\.json/),
    });
  });
});

describeShared('readTorchCheckpoint on the golden tiny CLIP', () => {
  it('gives the same tensors as model.safetensors, without position_ids', async () => {
    const dir = sharedPath('golden', 'tiny-clip');
    const fromBin = await readTorchCheckpoint(path.join(dir, 'pytorch_model.bin'));
    const fromSafetensors = await readSafetensors(path.join(dir, 'model.safetensors'));
    for (const name of fromSafetensors.keys()) if (name.endsWith('position_ids')) fromSafetensors.delete(name);
    expect([...fromBin.keys()].some((k) => k.endsWith('position_ids'))).toBe(false);
    expectSameTensors(fromBin, fromSafetensors, 0);
  });
});
