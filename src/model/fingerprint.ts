/**
 * A model fingerprint: what an index binds to. Two model directories with the same
 * fingerprint compute the same vectors: it covers the bytes of the ONNX files of the
 * chosen variant and the preprocessing settings (resolved, so formatting does not matter).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { ModelDirectory } from './model-dir.js';

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function computeModelFingerprint(model: ModelDirectory): Promise<string> {
  const hash = createHash('sha256');
  hash.update('rsclip-model-fingerprint-v1\n');
  for (const file of [model.onnx.vision, model.onnx.text]) {
    hash.update(`${path.relative(model.dir, file)} ${await sha256File(file)}\n`);
  }
  hash.update(`preprocess ${JSON.stringify(model.preprocess)}\n`);
  return hash.digest('hex');
}
