/**
 * Caption files in the two shapes retrieval benchmarks use:
 * - Karpathy-style JSON, as the remote-sensing retrieval papers ship it (`dataset_rsicd.json`,
 *   `dataset_ucm.json`, `dataset_sydney.json`, `dataset_RSITMD.json`): `{"images": [{"filename",
 *   "split", "sentences": [{"raw", "tokens"}], ...}]}`, optionally with a `filepath` folder;
 * - our JSONL, one `{"filename", "captions": [...]}` per line (the clip-rsicd repository's format).
 * The shape is told by the content, not the file name.
 */
import { RsclipError } from '../errors.js';
import { parseCaptionsJsonl, readText } from './dataset.js';

export const DEFAULT_SPLIT = 'test';

export type CaptionFormat = 'karpathy' | 'jsonl';

export interface CaptionFile {
  format: CaptionFormat;
  /** The split read (Karpathy files); null for JSONL, which has no splits. */
  split: string | null;
  /** Captions per image path (relative to the images folder), in file order. */
  captions: Map<string, string[]>;
}

interface KarpathyImage {
  filename?: unknown;
  filepath?: unknown;
  split?: unknown;
  sentences?: unknown;
}

function sentenceText(sentence: unknown): string | undefined {
  const { raw, tokens } = (sentence ?? {}) as { raw?: unknown; tokens?: unknown };
  if (typeof raw === 'string') return raw;
  if (Array.isArray(tokens) && tokens.every((t) => typeof t === 'string')) return tokens.join(' ');
  return undefined;
}

/** Captions of one split of a Karpathy-style file (already parsed); `file` names it in errors. */
export function parseKarpathyCaptions(data: unknown, file: string, split: string): Map<string, string[]> {
  const images = (data as { images?: unknown } | null)?.images;
  if (!Array.isArray(images)) throw new RsclipError('DATASET_INVALID', `${file}: expected a Karpathy-style object with an "images" array`);
  const captions = new Map<string, string[]>();
  const splitsSeen = new Set<string>();
  images.forEach((entry: KarpathyImage, i) => {
    const where = `${file}: images[${i}]`;
    if (typeof entry?.filename !== 'string' || entry.filename === '') throw new RsclipError('DATASET_INVALID', `${where} has no "filename"`);
    if (typeof entry.split !== 'string') throw new RsclipError('DATASET_INVALID', `${where} (${entry.filename}) has no "split"`);
    splitsSeen.add(entry.split);
    if (entry.split !== split) return;
    const name = typeof entry.filepath === 'string' && entry.filepath !== '' ? `${entry.filepath}/${entry.filename}` : entry.filename;
    if (!Array.isArray(entry.sentences)) throw new RsclipError('DATASET_INVALID', `${where} (${name}) has no "sentences" array`);
    const texts = entry.sentences.map(sentenceText);
    if (texts.some((t) => t === undefined)) throw new RsclipError('DATASET_INVALID', `${where} (${name}): every sentence needs a "raw" string (or "tokens")`);
    if (captions.has(name)) throw new RsclipError('DATASET_INVALID', `${where}: ${name} is listed twice in split ${split}`);
    captions.set(name, texts as string[]);
  });
  if (captions.size === 0) {
    throw new RsclipError('DATASET_INVALID', `${file} has no image in split "${split}"`, {
      hint: splitsSeen.size > 0 ? `its splits are ${[...splitsSeen].sort().join(', ')}: pass --split NAME` : 'the "images" array is empty',
    });
  }
  return captions;
}

/** A whole-file JSON object with an `images` array is Karpathy-style; anything else is read as JSONL. */
function parseWholeJson(text: string): unknown {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const data = JSON.parse(text) as unknown;
    return Array.isArray((data as { images?: unknown } | null)?.images) ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a caption file of either shape. `split` (default "test") applies to Karpathy files; JSONL refuses one. */
export async function readCaptionFile(file: string, options: { split?: string } = {}): Promise<CaptionFile> {
  const text = await readText(file, 'captions file', '--captions');
  const karpathy = parseWholeJson(text);
  if (karpathy !== undefined) {
    const split = options.split ?? DEFAULT_SPLIT;
    return { format: 'karpathy', split, captions: parseKarpathyCaptions(karpathy, file, split) };
  }
  if (options.split !== undefined) {
    throw new RsclipError('BAD_INPUT', `${file} is JSONL captions, which have no splits: it cannot select split "${options.split}"`, {
      hint: 'leave out --split, or pass a Karpathy-style dataset_*.json',
    });
  }
  return { format: 'jsonl', split: null, captions: parseCaptionsJsonl(text, file) };
}
