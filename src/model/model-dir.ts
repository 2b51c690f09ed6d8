/**
 * Opens and validates a model directory in the transformers.js / optimum layout:
 *   config.json, preprocessor_config.json, tokenizer.json | (vocab.json + merges.txt),
 *   onnx/vision_model.onnx, onnx/text_model.onnx (optionally *_quantized.onnx).
 * Every missing or malformed file is reported by name with what to do about it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RsclipError } from '../errors.js';

/** What `CLIPImageProcessor` reads from preprocessor_config.json, resolved to plain numbers. */
export interface PreprocessConfig {
  doConvertRgb: boolean;
  doResize: boolean;
  /** Target of the shortest side after resizing. */
  shortestEdge: number;
  /** PIL resample filter id (3 = bicubic, 2 = bilinear, 0 = nearest, 1 = lanczos). */
  resample: number;
  doCenterCrop: boolean;
  cropHeight: number;
  cropWidth: number;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}

export type ModelVariant = 'fp32' | 'int8' | 'fp16';
export const MODEL_VARIANTS: readonly ModelVariant[] = ['fp32', 'int8', 'fp16'];

export interface ModelDirectory {
  dir: string;
  /** `_name_or_path` from config.json, else the folder name. */
  id: string;
  /** Parsed config.json (the CLIPModel config). */
  config: ClipConfig;
  preprocess: PreprocessConfig;
  /** Raw preprocessor_config.json text (part of the fingerprint). */
  preprocessRaw: string;
  tokenizer: { kind: 'tokenizer.json'; file: string } | { kind: 'bpe'; vocabFile: string; mergesFile: string };
  /** Context length of the text tower (max_position_embeddings). */
  contextLength: number;
  onnx: { vision: string; text: string };
  variant: ModelVariant;
  /** The variants whose ONNX files are present. */
  availableVariants: ModelVariant[];
  /** `logitScale` from rsclip.json (the trained temperature, for scores as probabilities), when the file gives one. */
  logitScale: number | undefined;
}

const towerSchema = z.looseObject({
  hidden_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  intermediate_size: z.number().int().positive().optional(),
  hidden_act: z.string().optional(),
  layer_norm_eps: z.number().optional(),
});

const clipConfigSchema = z.looseObject({
  _name_or_path: z.string().optional(),
  model_type: z.string().optional(),
  projection_dim: z.number().int().positive(),
  logit_scale_init_value: z.number().optional(),
  text_config: towerSchema.extend({
    vocab_size: z.number().int().positive().optional(),
    max_position_embeddings: z.number().int().positive().optional(),
    eos_token_id: z.number().int().optional(),
    bos_token_id: z.number().int().optional(),
    pad_token_id: z.number().int().optional(),
  }),
  vision_config: towerSchema.extend({
    image_size: z.number().int().positive().optional(),
    patch_size: z.number().int().positive().optional(),
    num_channels: z.number().int().positive().optional(),
  }),
});
export type ClipConfig = z.infer<typeof clipConfigSchema>;

// transformers' CLIPTextConfig / CLIPVisionConfig defaults: configs written by older
// transformers leave some out, or carry the values in `text_config_dict` / `vision_config_dict`.
const TEXT_DEFAULTS = {
  vocab_size: 49408,
  hidden_size: 512,
  intermediate_size: 2048,
  num_hidden_layers: 12,
  num_attention_heads: 8,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};
const VISION_DEFAULTS = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  num_channels: 3,
  image_size: 224,
  patch_size: 32,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * Resolves a CLIPModel config.json as transformers does (tower defaults, `*_config_dict`
 * overriding `*_config`), then validates it. `file` names the file in errors.
 */
export function parseClipConfig(value: unknown, file: string, code: 'MODEL_INVALID' | 'CHECKPOINT_INVALID' = 'MODEL_INVALID'): ClipConfig {
  const raw = asRecord(value);
  const merged =
    Object.keys(raw).length === 0
      ? value
      : {
          projection_dim: 512,
          ...raw,
          text_config: { ...TEXT_DEFAULTS, ...asRecord(raw.text_config), ...asRecord(raw.text_config_dict) },
          vision_config: { ...VISION_DEFAULTS, ...asRecord(raw.vision_config), ...asRecord(raw.vision_config_dict) },
        };
  const parsed = clipConfigSchema.safeParse(merged);
  if (!parsed.success || raw.model_type !== undefined && raw.model_type !== 'clip') {
    const why = parsed.success ? `model_type is ${JSON.stringify(raw.model_type)}, expected "clip"` : z.prettifyError(parsed.error).replace(/\n/g, '; ');
    throw new RsclipError(code, `${file} is not a CLIP config: ${why}`, { hint: 'use a CLIPModel checkpoint (model_type "clip")' });
  }
  return parsed.data;
}

const sizeSchema = z.union([
  z.number().int().positive(),
  z.object({ shortest_edge: z.number().int().positive() }),
  z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
]);
const triple = z.tuple([z.number(), z.number(), z.number()]);
const preprocessorSchema = z.looseObject({
  do_convert_rgb: z.boolean().optional(),
  do_resize: z.boolean().optional(),
  size: sizeSchema.optional(),
  resample: z.number().int().min(0).max(5).optional(),
  do_center_crop: z.boolean().optional(),
  crop_size: sizeSchema.optional(),
  do_rescale: z.boolean().optional(),
  rescale_factor: z.number().positive().optional(),
  do_normalize: z.boolean().optional(),
  image_mean: z.union([triple, z.number()]).optional(),
  image_std: z.union([triple, z.number()]).optional(),
});

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

function shortest(size: z.infer<typeof sizeSchema>): number {
  if (typeof size === 'number') return size;
  if ('shortest_edge' in size) return size.shortest_edge;
  return Math.min(size.height, size.width);
}

function cropOf(size: z.infer<typeof sizeSchema>): { height: number; width: number } {
  if (typeof size === 'number') return { height: size, width: size };
  if ('shortest_edge' in size) return { height: size.shortest_edge, width: size.shortest_edge };
  return { height: size.height, width: size.width };
}

function asTriple(v: [number, number, number] | number | undefined, fallback: [number, number, number]): [number, number, number] {
  if (v === undefined) return fallback;
  return typeof v === 'number' ? [v, v, v] : v;
}

/** Resolves preprocessor_config.json as `CLIPImageProcessor` would, with its defaults. */
export function parsePreprocessConfig(raw: unknown, file = 'preprocessor_config.json'): PreprocessConfig {
  const parsed = preprocessorSchema.safeParse(raw);
  if (!parsed.success) {
    throw new RsclipError('MODEL_INVALID', `${file} is malformed: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`, {
      hint: 'copy preprocessor_config.json from the model repository again',
    });
  }
  const p = parsed.data;
  const shortestEdge = p.size === undefined ? 224 : shortest(p.size);
  const crop = p.crop_size === undefined ? { height: 224, width: 224 } : cropOf(p.crop_size);
  return {
    doConvertRgb: p.do_convert_rgb ?? true,
    doResize: p.do_resize ?? true,
    shortestEdge,
    resample: p.resample ?? 3,
    doCenterCrop: p.do_center_crop ?? true,
    cropHeight: crop.height,
    cropWidth: crop.width,
    doRescale: p.do_rescale ?? true,
    rescaleFactor: p.rescale_factor ?? 1 / 255,
    doNormalize: p.do_normalize ?? true,
    imageMean: asTriple(p.image_mean, CLIP_MEAN),
    imageStd: asTriple(p.image_std, CLIP_STD),
  };
}

function readJson(dir: string, name: string, hint: string): { value: unknown; raw: string } {
  const file = path.join(dir, name);
  if (!existsSync(file)) {
    throw new RsclipError('MODEL_INVALID', `model directory ${dir} has no ${name}`, { hint });
  }
  const raw = readFileSync(file, 'utf8');
  try {
    return { value: JSON.parse(raw), raw };
  } catch (cause) {
    throw new RsclipError('MODEL_INVALID', `${file} is not valid JSON: ${(cause as Error).message}`, { hint, cause });
  }
}

const rsclipJsonSchema = z.looseObject({ logitScale: z.number().optional() });

/** rsclip.json, rsclip's own notes beside the model (written by `rsclip model export`); optional. */
function readRsclipJson(dir: string, hint: string): { logitScale: number | undefined } {
  if (!existsSync(path.join(dir, 'rsclip.json'))) return { logitScale: undefined };
  const parsed = rsclipJsonSchema.safeParse(readJson(dir, 'rsclip.json', hint).value);
  if (!parsed.success) {
    throw new RsclipError('MODEL_INVALID', `${path.join(dir, 'rsclip.json')} is malformed: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`, { hint });
  }
  return { logitScale: parsed.data.logitScale };
}

function onnxFileName(tower: 'vision' | 'text', variant: ModelVariant): string {
  const suffix = variant === 'fp32' ? '' : variant === 'int8' ? '_quantized' : '_fp16';
  return path.join('onnx', `${tower}_model${suffix}.onnx`);
}

export function onnxPath(dir: string, tower: 'vision' | 'text', variant: ModelVariant): string {
  return path.join(dir, onnxFileName(tower, variant));
}

export interface OpenModelDirOptions {
  variant?: ModelVariant;
}

/** Reads and validates a model directory; throws RsclipError naming the first bad file. */
export function openModelDirectory(dir: string, options: OpenModelDirOptions = {}): ModelDirectory {
  const resolved = path.resolve(dir);
  if (!existsSync(resolved)) {
    throw new RsclipError('MODEL_NOT_FOUND', `model directory not found: ${dir}`, {
      hint: 'check the path; `rsclip model fetch` downloads a model',
    });
  }
  if (!statSync(resolved).isDirectory()) {
    throw new RsclipError('MODEL_NOT_FOUND', `${dir} is a file, not a model directory`, {
      hint: `pass the folder that holds the model's config.json and ONNX files${path.basename(resolved).endsWith('.onnx') ? ` (${path.dirname(dir)}?)` : ''}`,
    });
  }
  const refetch = 'fetch the model again (`rsclip model fetch <repo-id>`) or export it (`rsclip model export <checkpoint-dir> --out <model-dir>`)';
  const configJson = readJson(resolved, 'config.json', refetch);
  const c = parseClipConfig(configJson.value, path.join(resolved, 'config.json'));
  const pre = readJson(resolved, 'preprocessor_config.json', refetch);
  const preprocess = parsePreprocessConfig(pre.value, path.join(resolved, 'preprocessor_config.json'));

  let tokenizer: ModelDirectory['tokenizer'];
  const tokenizerJson = path.join(resolved, 'tokenizer.json');
  const vocab = path.join(resolved, 'vocab.json');
  const merges = path.join(resolved, 'merges.txt');
  if (existsSync(tokenizerJson)) tokenizer = { kind: 'tokenizer.json', file: tokenizerJson };
  else if (existsSync(vocab) && existsSync(merges)) tokenizer = { kind: 'bpe', vocabFile: vocab, mergesFile: merges };
  else {
    throw new RsclipError('MODEL_INVALID', `model directory ${resolved} has no tokenizer.json and no vocab.json + merges.txt`, { hint: refetch });
  }

  const availableVariants = MODEL_VARIANTS.filter(
    (v) => existsSync(onnxPath(resolved, 'vision', v)) && existsSync(onnxPath(resolved, 'text', v)),
  );
  const variant = options.variant ?? 'fp32';
  for (const tower of ['vision', 'text'] as const) {
    const file = onnxPath(resolved, tower, variant);
    if (!existsSync(file)) {
      const others = availableVariants.length ? `; variants present: ${availableVariants.join(', ')}` : '';
      throw new RsclipError('MODEL_INVALID', `model directory ${resolved} has no ${onnxFileName(tower, variant)}${others}`, {
        hint:
          variant === 'fp32'
            ? availableVariants.length > 0 ? `use --variant ${availableVariants.join(' or ')}, or ${refetch}` : refetch
            : variant === 'int8'
              ? 'use a variant present, or export int8 files: `rsclip model export <checkpoint-dir> --out <model-dir> --quantize int8`'
              : 'use a variant present (rsclip exports fp32 and int8)',
      });
    }
  }

  return {
    dir: resolved,
    id: c._name_or_path && c._name_or_path.length > 0 ? c._name_or_path : path.basename(resolved),
    config: c,
    preprocess,
    preprocessRaw: pre.raw,
    tokenizer,
    contextLength: c.text_config.max_position_embeddings ?? 77,
    onnx: { vision: onnxPath(resolved, 'vision', variant), text: onnxPath(resolved, 'text', variant) },
    variant,
    availableVariants,
    logitScale: readRsclipJson(resolved, `fix or delete rsclip.json, or ${refetch}`).logitScale,
  };
}
