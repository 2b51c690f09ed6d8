/** Tokenizes texts with a model directory's tokenizer (what `rsclip model tokenize` prints). */
import { openModelDirectory } from './model-dir.js';
import { loadTokenizer } from './tokenizer.js';

export async function tokenizeTexts(dir: string, texts: string[]): Promise<number[][]> {
  const model = openModelDirectory(dir);
  const tokenizer = await loadTokenizer(model.tokenizer, model.contextLength);
  return texts.map((t) => tokenizer.encode(t));
}
