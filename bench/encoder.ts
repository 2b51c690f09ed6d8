/**
 * Encoder throughput: images/s at batch 1/8/32 and text ms per query at 5/20/77 tokens.
 * Usage: npx tsx bench/encoder.ts --model DIR [--variant fp32|int8] [--threads N] [--seconds S]
 * Prints JSON.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadTokenizer, openClip, openModelDirectory, type ModelVariant } from '../src/model/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    variant: { type: 'string', default: 'fp32' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    seconds: { type: 'string', default: '3' },
  },
});
if (!values.model) throw new Error('usage: npx tsx bench/encoder.ts --model DIR [--variant fp32|int8] [--threads N]');
const threads = Number(values.threads);
const budgetMs = Number(values.seconds) * 1000;
const variant = values.variant as ModelVariant;

/** Runs fn repeatedly for about budgetMs after one warm-up call; returns mean ms per call. */
async function timeIt(fn: () => Promise<unknown>): Promise<{ msPerCall: number; calls: number }> {
  await fn();
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < budgetMs || calls < 3) {
    await fn();
    calls++;
  }
  return { msPerCall: (performance.now() - start) / calls, calls };
}

const loadStart = performance.now();
const encoder = await openClip(values.model, { threads, variant, maxImageBatch: 32 });
const openMs = performance.now() - loadStart;
const size = 3 * encoder.info.imageSize * encoder.info.imageSize;
const pixels = Float32Array.from({ length: size }, (_, i) => Math.sin(i) * 1.5);

const firstImage = performance.now();
await encoder.embedPixels([pixels]);
const visionLoadMs = performance.now() - firstImage;

const images: Record<string, { imagesPerSecond: number; msPerBatch: number }> = {};
for (const batch of [1, 8, 32]) {
  const input = Array.from({ length: batch }, () => pixels);
  const t = await timeIt(() => encoder.embedPixels(input));
  images[`batch${batch}`] = { imagesPerSecond: +((batch * 1000) / t.msPerCall).toFixed(2), msPerBatch: +t.msPerCall.toFixed(2) };
}

const model = openModelDirectory(values.model, { variant });
const tokenizer = await loadTokenizer(model.tokenizer, model.contextLength);
function textWithTokens(n: number): string {
  const words: string[] = [];
  while (tokenizer.encode(words.join(' ')).length < n && words.length < 200) words.push('river');
  return words.join(' ');
}
const firstText = performance.now();
await encoder.embedTexts(['warm up']);
const textLoadMs = performance.now() - firstText;
const texts: Record<string, { msPerQuery: number; tokens: number }> = {};
for (const n of [5, 20, 77]) {
  const text = textWithTokens(n);
  const t = await timeIt(() => encoder.embedTexts([text]));
  texts[`tokens${n}`] = { msPerQuery: +t.msPerCall.toFixed(2), tokens: tokenizer.encode(text).length };
}

console.log(
  JSON.stringify(
    {
      bench: 'encoder',
      model: encoder.info.id,
      dir: values.model,
      variant,
      embeddingDim: encoder.info.embeddingDim,
      threads,
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      node: process.version,
      openMs: +openMs.toFixed(1),
      visionSessionLoadMs: +visionLoadMs.toFixed(1),
      textSessionLoadMs: +textLoadMs.toFixed(1),
      images,
      texts,
      rssMiB: +(process.memoryUsage().rss / 2 ** 20).toFixed(1),
    },
    null,
    2,
  ),
);
await encoder.close();
