/**
 * Decides what to download from a repository listing: ready ONNX files in the
 * transformers.js layout when the repository has them (for int8, when it has the quantised
 * ones too), else the weights to export (safetensors before .bin, sharded sets complete),
 * plus config, preprocessor and tokenizer files either way. A repository whose ONNX files are
 * fp32 only gives those as they are for int8 too, and its weights for exporting the int8 files
 * beside them: its fp32 files stay the repository's, whatever variant is added.
 */
import { RsclipError } from '../../errors.js';
import type { HubFile } from './hub-client.js';

export type FetchVariant = 'fp32' | 'int8';

export interface DownloadPlan {
  /**
   * `onnx`: the downloaded files are the model directory; `checkpoint`: they must be exported;
   * `onnx+int8-export`: the repository's fp32 ONNX files (and metadata) as they are, with the
   * int8 files exported from its weights.
   */
  kind: 'onnx' | 'checkpoint' | 'onnx+int8-export';
  /** Every file to download. */
  files: HubFile[];
  /** The downloaded files that go into the model directory as they are (the weights of an export do not). */
  asIs: HubFile[];
  /** The variant the model directory will have: the one asked for, or fp32 where `acceptFp32` allowed it. */
  variant: FetchVariant;
}

export interface PlanOptions {
  /**
   * For int8: a repository with fp32 ONNX files only (and no weights to export int8 from) gives
   * its fp32 files rather than an error; for `rsclip up`, which uses int8 where there is one.
   */
  acceptFp32?: boolean;
}

const ONNX_FP32 = ['onnx/vision_model.onnx', 'onnx/text_model.onnx'];
const ONNX_INT8 = ['onnx/vision_model_quantized.onnx', 'onnx/text_model_quantized.onnx'];
const OPTIONAL_TOKENIZER_FILES = ['tokenizer_config.json', 'special_tokens_map.json'];
const SHARD = {
  safetensors: /^model-\d+-of-\d+\.safetensors$/,
  bin: /^pytorch_model-\d+-of-\d+\.bin$/,
};

export function planDownload(repoId: string, files: HubFile[], variant: FetchVariant, options: PlanOptions = {}): DownloadPlan {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const has = (p: string): boolean => byPath.has(p);
  const pick = (paths: string[]): HubFile[] => paths.map((p) => byPath.get(p)!);
  const listing = (): string => files.map((f) => f.path).slice(0, 20).join(', ') || 'no files';

  for (const required of ['config.json', 'preprocessor_config.json']) {
    if (!has(required)) {
      throw new RsclipError('MODEL_FETCH_FAILED', `${repoId} has no ${required}, so it is not a CLIP model repository (found: ${listing()})`, {
        hint: 'pick a CLIPModel repository such as flax-community/clip-rsicd-v2 or Xenova/clip-vit-base-patch32',
      });
    }
  }
  let tokenizer: string[];
  if (has('tokenizer.json')) tokenizer = ['tokenizer.json'];
  else if (has('vocab.json') && has('merges.txt')) tokenizer = ['vocab.json', 'merges.txt'];
  else {
    throw new RsclipError('MODEL_FETCH_FAILED', `${repoId} has neither tokenizer.json nor vocab.json + merges.txt (found: ${listing()})`, {
      hint: 'pick a CLIP repository that ships its tokenizer',
    });
  }
  const metadata = ['config.json', 'preprocessor_config.json', ...tokenizer, ...OPTIONAL_TOKENIZER_FILES.filter(has)];

  const shardsOf = (pattern: RegExp): string[] => files.map((f) => f.path).filter((p) => pattern.test(p)).sort();
  let weights: string[] | undefined;
  if (has('model.safetensors')) weights = ['model.safetensors'];
  else if (has('model.safetensors.index.json') && shardsOf(SHARD.safetensors).length > 0) weights = ['model.safetensors.index.json', ...shardsOf(SHARD.safetensors)];
  else if (has('pytorch_model.bin')) weights = ['pytorch_model.bin'];
  else if (has('pytorch_model.bin.index.json') && shardsOf(SHARD.bin).length > 0) weights = ['pytorch_model.bin.index.json', ...shardsOf(SHARD.bin)];

  const onnxFor = (v: FetchVariant): DownloadPlan => {
    const onnx = v === 'int8' ? [...ONNX_FP32, ...ONNX_INT8] : ONNX_FP32;
    // ONNX files above 2 GB keep their weights in a side file next to them.
    const external = files.filter((f) => onnx.some((o) => f.path === `${o}_data` || f.path === `${o}.data`)).map((f) => f.path);
    const asIs = pick([...metadata, ...onnx, ...external]);
    return { kind: 'onnx', files: asIs, asIs, variant: v };
  };
  if (ONNX_FP32.every(has)) {
    if (variant === 'fp32' || ONNX_INT8.every(has)) return onnxFor(variant);
    // int8 asked for, and the repository's ONNX files are fp32 only: its fp32 files as they are (an index
    // may be built on them), and the int8 ones exported from its weights if it has them
    if (weights) {
      const { asIs } = onnxFor('fp32');
      return { kind: 'onnx+int8-export', files: [...asIs, ...pick(weights)], asIs, variant };
    }
    if (options.acceptFp32) return onnxFor('fp32');
    throw new RsclipError('MODEL_FETCH_FAILED', `${repoId} has no ${ONNX_INT8.filter((p) => !has(p)).join(' / ')} for --variant int8, and no PyTorch weights to export them from`, {
      hint: 'fetch with --variant fp32',
    });
  }

  if (!weights) {
    throw new RsclipError(
      'MODEL_FETCH_FAILED',
      `${repoId} has neither ONNX files (${ONNX_FP32.join(' + ')}) nor PyTorch weights (model.safetensors, pytorch_model.bin or their sharded index); found: ${listing()}`,
      {
        hint: has('flax_model.msgpack')
          ? 'its Flax weights (flax_model.msgpack) are not supported; pick a repository with PyTorch or ONNX weights'
          : 'pick a repository with PyTorch or ONNX weights',
      },
    );
  }
  return { kind: 'checkpoint', files: pick([...metadata, ...weights]), asIs: [], variant };
}
