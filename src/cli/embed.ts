/** `rsclip embed`: one unit vector per text or image. */
import { Option, type Command } from 'commander';
import { RsclipError } from '../errors.js';
import { openClip } from '../model/index.js';
import { collect, modelVariant, positiveInt, printJson } from './options.js';

interface EmbedOptions {
  model: string;
  text?: string[];
  image?: string[];
  json?: boolean;
  threads?: number;
  variant: ReturnType<typeof modelVariant>;
}

export function registerEmbedCommand(program: Command): void {
  program
    .command('embed')
    .description('embed texts or images with a model; prints one L2-normalised vector per input')
    .requiredOption('-m, --model <dir>', 'model directory')
    .addOption(new Option('-t, --text <text>', 'a text to embed (repeatable)').argParser(collect).conflicts('image'))
    .addOption(new Option('-i, --image <file>', 'an image file to embed (repeatable)').argParser(collect))
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16', modelVariant, 'fp32')
    .option('--json', 'print JSON: [{input, vector}]')
    .action(async (opts: EmbedOptions) => {
      const texts = opts.text ?? [];
      const images = opts.image ?? [];
      if (texts.length === 0 && images.length === 0) {
        throw new RsclipError('BAD_INPUT', 'nothing to embed', { hint: 'pass --text "..." or --image FILE' });
      }
      const encoder = await openClip(opts.model, { variant: opts.variant, ...(opts.threads ? { threads: opts.threads } : {}) });
      try {
        const inputs = texts.length > 0 ? texts : images;
        const vectors = texts.length > 0 ? await encoder.embedTexts(texts) : await encoder.embedImages(images);
        if (opts.json) {
          printJson(inputs.map((input, i) => ({ input, vector: Array.from(vectors[i]!) })));
        } else {
          for (const [i, input] of inputs.entries()) {
            process.stdout.write(`${input}\t${Array.from(vectors[i]!, (x) => x.toFixed(6)).join(' ')}\n`);
          }
        }
      } finally {
        await encoder.close();
      }
    });
}
