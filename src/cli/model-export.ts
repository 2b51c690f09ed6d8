/**
 * `rsclip model export <checkpoint-dir> --out <model-dir> [--quantize int8]`: a Hugging Face
 * CLIP checkpoint to a model directory; and the hidden `rsclip model random`, which writes
 * a model directory with random weights for tests and benchmarks.
 */
import { statSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { RsclipError } from '../errors.js';
import { exportCheckpointDirectory, type ExportResult } from '../model/export/export-clip.js';
import { RANDOM_CLIP_SIZES, writeRandomClipModel, type RandomClipSize } from '../model/export/random-model.js';
import { reportStopped, stopOnSigint } from './interrupt.js';
import { nonNegativeInt, printJson } from './options.js';

function quantizeMode(value: string): 'int8' {
  if (value !== 'int8') throw new InvalidArgumentError(`expected int8, got "${value}"`);
  return value;
}

function randomSize(value: string): RandomClipSize {
  if (!(value in RANDOM_CLIP_SIZES)) throw new InvalidArgumentError(`expected one of ${Object.keys(RANDOM_CLIP_SIZES).join(', ')}, got "${value}"`);
  return value as RandomClipSize;
}

const progress = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

/** The checkpoint folder is the user's argument: a missing one or a file is said to be that, not to lack a config.json. */
function checkCheckpointDir(dir: string): void {
  const info = statSync(dir, { throwIfNoEntry: false });
  const hint = "pass the folder that holds the checkpoint's config.json, weights, tokenizer and preprocessor files";
  if (!info) throw new RsclipError('BAD_INPUT', `checkpoint directory ${dir} does not exist`, { hint });
  if (!info.isDirectory()) throw new RsclipError('BAD_INPUT', `${dir} is a file, not a checkpoint directory`, { hint });
}

function report(result: ExportResult, json: boolean): void {
  if (json) printJson(result);
  else process.stdout.write(`${result.outDir}\n`);
}

export function registerModelExportCommand(model: Command): void {
  model
    .command('export')
    .description('export a Hugging Face CLIP checkpoint (model.safetensors or pytorch_model.bin) to an ONNX model directory')
    .argument('<checkpoint-dir>', 'folder with config.json, the weights, tokenizer and preprocessor files')
    .requiredOption('--out <model-dir>', 'model directory to create')
    .option('--quantize <mode>', 'also write int8 towers (*_quantized.onnx)', quantizeMode)
    .option('--force', 'replace --out if it exists')
    .option('--json', 'print the result as JSON')
    .action(async (checkpointDir: string, opts: { out: string; quantize?: 'int8'; force?: boolean; json?: boolean }) => {
      checkCheckpointDir(checkpointDir);
      const sigint = stopOnSigint('rsclip: stopping the export at its next step (Ctrl-C again to quit at once)');
      // the export's own clean-up removes its staging folder when a step throws
      const stopIfCancelled = (message: string): void => {
        if (sigint.signal.aborted) throw new RsclipError('INTERRUPTED', `model export cancelled; ${opts.out} was not written`, { hint: 'run the command again' });
        progress(message);
      };
      try {
        report(await exportCheckpointDirectory(checkpointDir, opts.out, { quantize: opts.quantize, overwrite: opts.force, onProgress: stopIfCancelled }), opts.json ?? false);
      } catch (error) {
        reportStopped(sigint, error);
      } finally {
        sigint.release();
      }
    });

  model
    .command('random', { hidden: true })
    .description('write a model directory with the CLIP architecture and seeded random weights (tests, benchmarks)')
    .requiredOption('--out <model-dir>', 'model directory to create')
    .option('--size <size>', `one of ${Object.keys(RANDOM_CLIP_SIZES).join(', ')}`, randomSize, 'tiny')
    .option('--seed <n>', 'random seed', nonNegativeInt, 0)
    .option('--quantize <mode>', 'also write int8 towers (*_quantized.onnx)', quantizeMode)
    .option('--force', 'replace --out if it exists')
    .action(async (opts: { out: string; size: RandomClipSize; seed: number; quantize?: 'int8'; force?: boolean }) => {
      const dir = await writeRandomClipModel(opts.out, { size: opts.size, seed: opts.seed, quantize: opts.quantize, overwrite: opts.force, onProgress: progress });
      process.stdout.write(`${dir}\n`);
    });
}
