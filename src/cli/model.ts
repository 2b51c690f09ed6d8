/** `rsclip model info` and `rsclip model tokenize`. */
import type { Command } from 'commander';
import { describeModel, type ModelDescription } from '../model/describe.js';
import { localModelDirectory } from '../model/resolve-model.js';
import { tokenizeTexts } from '../model/tokenize.js';
import { cacheDirOption, chosenModel, modelVariant, printJson } from './options.js';

function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${bytes} B`;
}

function printDescription(d: ModelDescription): void {
  const lines = [
    `model        ${d.id}`,
    `directory    ${d.dir}`,
    `variant      ${d.variant} (available: ${d.availableVariants.join(', ')})`,
    `fingerprint  ${d.fingerprint}`,
    `embedding    ${d.embeddingDim} dimensions`,
    `vision       ${d.vision.imageSize}px, patch ${d.vision.patchSize}, width ${d.vision.hiddenSize}, ${d.vision.layers} layers, ${d.vision.heads} heads, ${d.vision.activation ?? 'quick_gelu'}`,
    `text         width ${d.text.hiddenSize}, ${d.text.layers} layers, ${d.text.heads} heads, vocab ${d.text.vocabSize}, ${d.text.contextLength} positions`,
    `tokenizer    ${d.tokenizer}`,
    `preprocess   shortest side ${d.preprocess.shortestEdge} (resample ${d.preprocess.resample}), crop ${d.preprocess.cropWidth}x${d.preprocess.cropHeight}, mean [${d.preprocess.imageMean.join(', ')}], std [${d.preprocess.imageStd.join(', ')}]`,
    `inputs       vision ${d.graphs.vision.inputs.map((i) => `${i.name}[${i.shape.join(',')}]`).join(' ')}; text ${d.graphs.text.inputs.map((i) => `${i.name}[${i.shape.join(',')}]`).join(' ')}`,
    'files',
    ...d.files.map((f) => `  ${f.path.padEnd(40)} ${formatBytes(f.bytes)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerModelCommands(model: Command): void {
  model
    .command('info')
    .description('show a model directory: architecture, dimensions, files, fingerprint')
    .argument('<dir>', 'model directory (transformers.js / optimum layout), or a Hub repo id fetched into the cache')
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16', modelVariant, 'fp32')
    .option('--json', 'print JSON')
    .action(async (dir: string, opts: { variant: ReturnType<typeof modelVariant>; json?: boolean }) => {
      const description = await describeModel(localModelDirectory(dir, cacheDirOption()), { variant: opts.variant, ...cacheDirOption() });
      if (opts.json) printJson(description);
      else printDescription(description);
    });

  model
    .command('tokenize')
    .description('print the token ids of texts as JSON on one line (an array of ids per text)')
    .option('-m, --model <dir>', 'model directory (default: config "model")')
    .argument('<text...>', 'texts to tokenize')
    .action(async (texts: string[], opts: { model?: string }) => {
      process.stdout.write(`${JSON.stringify(await tokenizeTexts(chosenModel(opts.model), texts))}\n`);
    });
}
