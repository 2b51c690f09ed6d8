/**
 * The command-line query algebra, after rclip:
 *
 *   rsclip search "stadium" + ./ref.jpg - "parking lot"
 *
 * Terms are separated by `+` (add) or `-` (subtract); the first term is added unless a `-`
 * precedes it. Two terms with no operator between them are both added. A term may carry a
 * weight as `N*term` (`2*river`, `0.5*./ref.jpg`). What a term is:
 *   - `#123` or `id:123`: the indexed image with that id;
 *   - `image:PATH` or a path to an existing file: an image file;
 *   - `text:ANYTHING`: a text, whatever it looks like;
 *   - a folder, or something that looks like a path (`./x`, `a/b.jpg`, `scene.tif`) but is not
 *     there: an error, never silently a text;
 *   - anything else: a text.
 */
import { statSync } from 'node:fs';
import { RsclipError } from '../errors.js';
import { MAX_TERMS } from './limits.js';
import type { QueryTerm } from './types.js';

export type PathKind = (path: string) => 'file' | 'folder' | 'missing';

export function pathKindOf(path: string): 'file' | 'folder' | 'missing' {
  try {
    const info = statSync(path);
    return info.isDirectory() ? 'folder' : 'file';
  } catch {
    return 'missing';
  }
}

/** A term a user most likely meant as a file: a relative or absolute path, or one word with an image extension. */
const PATH_LIKE = /^(?:\.{1,2}[\\/]|[\\/]|~[\\/]|[a-zA-Z]:[\\/])|^\S*[\\/]\S*$|^\S+\.(?:jpe?g|jpe|jfif|png|webp|gif|tiff?|avif|heic|heif|bmp|jp2)$/i;

const WEIGHTED = /^(\d+(?:\.\d*)?|\.\d+)\*(.+)$/s;
const ID_TERM = /^(?:#|id:)(\d+)$/;

function termOf(raw: string, weight: number, pathKind: PathKind): QueryTerm {
  const id = ID_TERM.exec(raw);
  if (id) return { kind: 'id', id: Number(id[1]), weight };
  if (raw.startsWith('text:')) return { kind: 'text', text: raw.slice('text:'.length), weight };
  const explicit = raw.startsWith('image:');
  const file = explicit ? raw.slice('image:'.length) : raw;
  const kind = pathKind(file);
  if (kind === 'file') return { kind: 'image', image: file, weight };
  if (kind === 'folder') {
    throw new RsclipError('BAD_QUERY', `query term "${raw}" is a folder, not an image file`, { hint: `give an image file, or write "text:${file}" to search for the text` });
  }
  if (explicit) throw new RsclipError('BAD_QUERY', `image term "${raw}": no such file ${file}`, { hint: 'check the path' });
  if (PATH_LIKE.test(raw)) {
    throw new RsclipError('BAD_QUERY', `query term "${raw}" looks like a file path, but there is no such file`, { hint: `check the path, or write "text:${raw}" to search for the text` });
  }
  return { kind: 'text', text: raw, weight };
}

export function parseQueryTerms(args: string[], pathKind: PathKind = pathKindOf): QueryTerm[] {
  const terms: QueryTerm[] = [];
  let sign = 1;
  let pendingOperator: string | undefined;
  for (const arg of args) {
    if (arg === '+' || arg === '-') {
      if (pendingOperator !== undefined) throw new RsclipError('BAD_QUERY', `two operators in a row: "${pendingOperator} ${arg}"`, { hint: 'put a term between + and -' });
      pendingOperator = arg;
      sign = arg === '-' ? -1 : 1;
      continue;
    }
    const text = arg.trim();
    if (text === '') throw new RsclipError('BAD_QUERY', arg === '' ? 'empty query term' : `blank query term ${JSON.stringify(arg)}`, { hint: `remove the ${arg === '' ? 'empty ""' : JSON.stringify(arg)} argument` });
    const weighted = WEIGHTED.exec(text);
    const weight = weighted ? Number(weighted[1]) : 1;
    if (!(weight > 0)) throw new RsclipError('BAD_QUERY', `weight of "${text}" must be positive, got ${weight}`, { hint: 'use - before the term to subtract it' });
    terms.push(termOf(weighted ? weighted[2]! : text, sign * weight, pathKind));
    sign = 1;
    pendingOperator = undefined;
  }
  if (pendingOperator !== undefined) throw new RsclipError('BAD_QUERY', `the query ends with "${pendingOperator}"`, { hint: 'add a term after it' });
  if (terms.length === 0) throw new RsclipError('BAD_QUERY', 'empty query: expected at least one text, image or id term');
  if (terms.length > MAX_TERMS) throw new RsclipError('BAD_QUERY', `too many query terms: at most ${MAX_TERMS}, got ${terms.length}`);
  return terms;
}
