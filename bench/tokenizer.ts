/**
 * Tokenizer speed: load time, and per-query time on captions with a cold word cache (a fresh
 * tokenizer, as for a new query) and a warm one (words seen before, as for a busy server).
 * Usage: npx tsx bench/tokenizer.ts [--model DIR] [--bpe DIR] [--texts tokenizer_golden.json] [--repeat N]
 * --model: a model directory (its tokenizer.json or vocab.json + merges.txt, and its context length);
 * --bpe: a folder with vocab.json + merges.txt (e.g. ../shared/clip), context length 77.
 * --texts defaults to ../shared/golden/tokenizer_golden.json when present, else a few built-in captions.
 * Prints JSON.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadTokenizer, openModelDirectory, type ClipTokenizer, type ModelDirectory } from '../src/model/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    bpe: { type: 'string' },
    texts: { type: 'string', default: path.join(import.meta.dirname, '../../shared/golden/tokenizer_golden.json') },
    repeat: { type: 'string', default: '5' },
  },
});
if (!values.model && !values.bpe) throw new Error('usage: npx tsx bench/tokenizer.ts [--model DIR] [--bpe DIR] [--texts tokenizer_golden.json] [--repeat N]');
const repeat = Number(values.repeat);

const BUILT_IN_CAPTIONS = [
  'many buildings and some green trees are in a dense residential area.',
  'a baseball field is surrounded by green trees and several buildings.',
  'an airplane is parked at the airport next to the runway.',
  'a bridge crosses the river with boats.',
  'a stadium',
];

function readTexts(file: string): { texts: string[]; source: string } {
  if (!existsSync(file)) return { texts: BUILT_IN_CAPTIONS, source: 'built-in captions' };
  const json = JSON.parse(readFileSync(file, 'utf8')) as { cases: { text: string }[] } | string[];
  return { texts: Array.isArray(json) ? json : json.cases.map((c) => c.text), source: file };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function load(source: ModelDirectory['tokenizer'], contextLength: number): Promise<{ tokenizer: ClipTokenizer; wallMs: number; cpuMs: number }> {
  const wall = performance.now();
  const cpu = cpuMs();
  const tokenizer = await loadTokenizer(source, contextLength);
  return { tokenizer, wallMs: performance.now() - wall, cpuMs: cpuMs() - cpu };
}

/** Mean microseconds per text over one pass. */
function pass(tokenizer: ClipTokenizer, texts: string[]): number {
  const start = performance.now();
  for (const t of texts) tokenizer.encode(t);
  return ((performance.now() - start) * 1000) / texts.length;
}

const { texts, source } = readTexts(values.texts);
const results = [];
const sources: { dir: string; tokenizer: ModelDirectory['tokenizer']; contextLength: number }[] = [];
if (values.model) {
  const model = openModelDirectory(values.model);
  sources.push({ dir: model.dir, tokenizer: model.tokenizer, contextLength: model.contextLength });
}
if (values.bpe) {
  const dir = path.resolve(values.bpe);
  sources.push({ dir, tokenizer: { kind: 'bpe', vocabFile: path.join(dir, 'vocab.json'), mergesFile: path.join(dir, 'merges.txt') }, contextLength: 77 });
}

for (const { dir, tokenizer, contextLength } of sources) {
  const loaded = await load(tokenizer, contextLength);
  const coldUsPerText = pass(loaded.tokenizer, texts);
  const warm: number[] = [];
  for (let r = 0; r < repeat; r++) warm.push(pass(loaded.tokenizer, texts));
  const batchStart = performance.now();
  let batches = 0;
  for (let i = 0; i < texts.length; i += 32, batches++) loaded.tokenizer.encodeBatch(texts.slice(i, i + 32));
  results.push({
    source: tokenizer.kind,
    dir,
    loadWallMs: Math.round(loaded.wallMs),
    loadCpuMs: Math.round(loaded.cpuMs),
    coldCacheUsPerText: Number(coldUsPerText.toFixed(2)),
    warmCacheUsPerText: Number(Math.min(...warm).toFixed(2)),
    allTextsColdMs: Number(((coldUsPerText * texts.length) / 1000).toFixed(1)),
    encodeBatch32UsPerBatch: Number((((performance.now() - batchStart) * 1000) / batches).toFixed(1)),
  });
}

console.log(
  JSON.stringify(
    { bench: 'tokenizer', cpu: os.cpus()[0]?.model, loadAverage1m: os.loadavg()[0], threads: 1, texts: texts.length, textSource: source, repeat, results },
    null,
    2,
  ),
);
