import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxSession } from '../../src/model/onnx.js';
import { tinyModelDir } from '../fixtures/model.js';

const ROW = 3 * 224 * 224;

function rows(count: number, seed: number): Float32Array[] {
  let s = seed;
  return Array.from({ length: count }, () =>
    Float32Array.from({ length: ROW }, () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return (s / 2 ** 32) * 4 - 2;
    }),
  );
}

describe('OnnxSession with rows joined into its kept batch', () => {
  let session: OnnxSession;
  beforeAll(async () => {
    session = await OnnxSession.open(path.join(await tinyModelDir(), 'onnx', 'vision_model.onnx'), { threads: 1 });
  });
  afterAll(() => session.close());

  const run = (batch: Float32Array[]) => session.run({ pixel_values: { type: 'float32', rows: batch, dims: [batch.length, 3, 224, 224] } }, 'image_embeds');

  it('gives each of several runs in flight at once the embeddings of its own rows', async () => {
    const batches = [rows(4, 1), rows(4, 2), rows(4, 3)];
    const alone: Float32Array[] = [];
    for (const batch of batches) alone.push((await run(batch)).data);
    // started together: a run that joined its rows into the kept batch must keep them there until it ends
    const together = await Promise.all(batches.map(run));
    together.forEach((out, i) => expect(Array.from(out.data)).toEqual(Array.from(alone[i]!)));
    expect(Array.from(alone[0]!)).not.toEqual(Array.from(alone[1]!));
  });
});
