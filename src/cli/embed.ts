/** `rsclip embed`: one unit vector per text and per image. */
import { Option, type Command } from 'commander';
import { loadConfig } from '../config.js';
import { isRsclipError, RsclipError } from '../errors.js';
import { openClip } from '../model/encoder.js';
import { DEFAULT_MAX_INPUT_PIXELS } from '../model/image.js';
import { cacheDirOption, chosenModel, collect, modelVariant, positiveInt, printJson } from './options.js';
import { oneField } from '../one-field.js';
import { longTextNotice } from '../search/long-texts.js';

interface EmbedOptions {
  model?: string;
  text?: string[];
  image?: string[];
  json?: boolean;
  threads?: number;
  maxInputPixels?: number;
  variant: ReturnType<typeof modelVariant>;
}

/** The library's advice for a query image past the pixel limit is a smaller image; here the limit is an option too. */
function namingLimitOption(error: unknown): never {
  if (!isRsclipError(error, 'IMAGE_TOO_LARGE')) throw error;
  throw new RsclipError('IMAGE_TOO_LARGE', error.message, { hint: 'downscale the image or raise the pixel limit (--max-input-pixels)', cause: error });
}

export function registerEmbedCommand(program: Command): void {
  program
    .command('embed')
    .description('embed texts and images with a model; prints one L2-normalised vector per input, texts first, each in the order given')
    .option('-m, --model <dir>', 'model directory (default: config "model")')
    .addOption(new Option('-t, --text <text>', 'a text to embed (repeatable; may be combined with --image)').argParser(collect))
    .addOption(new Option('-i, --image <file>', 'an image file to embed (repeatable; may be combined with --text)').argParser(collect))
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16', modelVariant, 'fp32')
    .option('--max-input-pixels <n>', `refuse images with more pixels than this (decompression bombs; default ${DEFAULT_MAX_INPUT_PIXELS})`, positiveInt)
    .option('--json', 'print JSON: [{kind, input, vector}]')
    .action(async (opts: EmbedOptions) => {
      const texts = opts.text ?? [];
      const images = opts.image ?? [];
      if (texts.length === 0 && images.length === 0) {
        throw new RsclipError('BAD_INPUT', 'nothing to embed', { hint: 'pass --text "..." or --image FILE' });
      }
      const { config } = loadConfig();
      const encoder = await openClip(chosenModel(opts.model, config), {
        variant: opts.variant,
        ...cacheDirOption(config),
        ...(opts.threads ? { threads: opts.threads } : {}),
        ...(opts.maxInputPixels ? { maxInputPixels: opts.maxInputPixels } : {}),
      });
      try {
        for (const text of texts) {
          const notice = longTextNotice(encoder, text);
          if (notice) process.stderr.write(`rsclip: ${notice}\n`);
        }
        const textVectors = texts.length > 0 ? await encoder.embedTexts(texts) : [];
        const imageVectors = images.length > 0 ? await encoder.embedImages(images).catch(namingLimitOption) : [];
        const rows = [
          ...texts.map((input, i) => ({ kind: 'text' as const, input, vector: textVectors[i]! })),
          ...images.map((input, i) => ({ kind: 'image' as const, input, vector: imageVectors[i]! })),
        ];
        if (opts.json) {
          printJson(rows.map(({ kind, input, vector }) => ({ kind, input, vector: Array.from(vector) })));
        } else {
          for (const { input, vector } of rows) process.stdout.write(`${oneField(input)}\t${Array.from(vector, (x) => x.toFixed(6)).join(' ')}\n`);
        }
      } finally {
        await encoder.close();
      }
    });
}
