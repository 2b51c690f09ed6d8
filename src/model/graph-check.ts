/**
 * config.json and preprocessor_config.json describe the towers; the ONNX graphs are the towers.
 * Where they disagree (a projection_dim that is not the graph's output width, a crop that is not
 * its input size, a context longer than its position table, a tower file swapped for the other)
 * the model is refused with the mismatch named: otherwise vectors are cut to the config's width
 * without a word, or onnxruntime fails deep inside a run.
 */
import path from 'node:path';
import { RsclipError } from '../errors.js';
import type { ModelDirectory } from './model-dir.js';
import type { OnnxFeed, OnnxOutput, OnnxValueInfo } from './onnx.js';
import type { ClipTokenizer, TokenizedBatch } from './tokenizer.js';

export interface TowerGraph {
  file: string;
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface RunnableGraph extends TowerGraph {
  run(feeds: Record<string, OnnxFeed>, outputName: string): Promise<OnnxOutput>;
}

const INPUT = { vision: 'pixel_values', text: 'input_ids' } as const;
const OUTPUT = { vision: 'image_embeds', text: 'text_embeds' } as const;
const REEXPORT = 'export the model again (`rsclip model export <checkpoint-dir> --out <model-dir>`), or fix the setting named to match the ONNX file';

function mismatch(message: string): RsclipError {
  return new RsclipError('MODEL_INVALID', message, { hint: REEXPORT });
}

function shown(graph: TowerGraph, model: ModelDirectory): string {
  return path.relative(model.dir, graph.file);
}

/** The output the encoder reads: the named embedding, else the one 2-D float output. */
export function embeddingOutput(graph: TowerGraph, tower: 'vision' | 'text'): OnnxValueInfo | undefined {
  return graph.outputs.find((o) => o.name === OUTPUT[tower]) ?? graph.outputs.find((o) => o.type === 'float32' && o.shape.length === 2);
}

/** Throws MODEL_INVALID where a tower's declared inputs and outputs disagree with the model's settings. */
export function checkTowerGraph(model: ModelDirectory, tower: 'vision' | 'text', graph: TowerGraph): void {
  const file = shown(graph, model);
  const input = graph.inputs.find((i) => i.name === INPUT[tower]);
  if (!input) {
    const other = tower === 'vision' ? 'text' : 'vision';
    const looksSwapped = graph.inputs.some((i) => i.name === INPUT[other]);
    throw new RsclipError('MODEL_INVALID', `${file} has no "${INPUT[tower]}" input (it takes ${graph.inputs.map((i) => i.name).join(', ') || 'nothing'})${looksSwapped ? `: it is a ${other} tower` : ''}`, {
      hint: 'fetch or export the model again',
    });
  }
  const output = embeddingOutput(graph, tower);
  if (!output) {
    throw new RsclipError('MODEL_INVALID', `${file} has no "${OUTPUT[tower]}" output and no 2-D float output`, { hint: 'export the model with `rsclip model export`' });
  }
  const width = output.shape[1];
  if (typeof width === 'number' && width !== model.config.projection_dim) {
    throw mismatch(`config.json says projection_dim ${model.config.projection_dim}, but ${file} gives ${width}-d vectors ("${output.name}")`);
  }
  if (tower === 'vision') {
    const [, , height, across] = input.shape;
    const { cropHeight, cropWidth } = model.preprocess;
    if ((typeof height === 'number' && height !== cropHeight) || (typeof across === 'number' && across !== cropWidth)) {
      throw mismatch(`preprocessor_config.json makes ${cropHeight}x${cropWidth} images, but ${file} takes ${String(height)}x${String(across)} ("${input.name}")`);
    }
  } else {
    const length = input.shape[1];
    if (typeof length === 'number' && length < model.contextLength) {
      throw mismatch(`config.json says text_config.max_position_embeddings ${model.contextLength}, but ${file} takes ${length} tokens ("${input.name}")`);
    }
  }
}

/** The text tower's feeds for a tokenized batch: `input_ids`, and `attention_mask` where the graph takes one. */
export function textFeeds(batch: TokenizedBatch, inputs: readonly OnnxValueInfo[]): Record<string, OnnxFeed> {
  const dims = [batch.batchSize, batch.sequenceLength];
  const feeds: Record<string, OnnxFeed> = { input_ids: { type: 'int64', data: batch.inputIds, dims } };
  if (inputs.some((input) => input.name === 'attention_mask')) feeds.attention_mask = { type: 'int64', data: batch.attentionMask, dims };
  return feeds;
}

/**
 * Throws MODEL_INVALID when the text tower cannot run a text of the configured context length.
 * Its position table is not among the graph's declared shapes (the sequence axis is dynamic), so
 * one run of an empty text padded to the full context finds a table too short for it.
 */
export async function checkTextContext(model: ModelDirectory, graph: RunnableGraph, tokenizer: ClipTokenizer): Promise<void> {
  if (typeof graph.inputs.find((i) => i.name === INPUT.text)?.shape[1] === 'number') return;
  const feeds = textFeeds(tokenizer.encodeBatch([''], { padTo: model.contextLength }), graph.inputs);
  try {
    await graph.run(feeds, embeddingOutput(graph, 'text')!.name);
  } catch (cause) {
    throw new RsclipError('MODEL_INVALID', `${shown(graph, model)} cannot run ${model.contextLength} tokens, the text_config.max_position_embeddings of config.json: ${(cause as Error).message}`, {
      hint: REEXPORT,
      cause,
    });
  }
}

/** Throws MODEL_INVALID when a tower gave rows of another width than the model's embedding dimension. */
export function checkOutputWidth(model: ModelDirectory, file: string, dims: readonly number[], rows: number): void {
  const width = dims.length === 2 && dims[0] === rows ? dims[1]! : undefined;
  if (width !== model.config.projection_dim) {
    throw mismatch(`config.json says projection_dim ${model.config.projection_dim}, but ${path.relative(model.dir, file)} gave an output of shape [${dims.join(', ')}] for ${rows} inputs`);
  }
}
