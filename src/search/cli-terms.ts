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
 *   - `text:ANYTHING` or anything else: a text.
 */
import { statSync } from 'node:fs';
import { RsclipError } from '../errors.js';
import { MAX_TERMS } from './limits.js';
import type { QueryTerm } from './types.js';

export type IsFile = (path: string) => boolean;

export function isExistingFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const WEIGHTED = /^(\d+(?:\.\d*)?|\.\d+)\*(.+)$/s;
const ID_TERM = /^(?:#|id:)(\d+)$/;

function termOf(raw: string, weight: number, isFile: IsFile): QueryTerm {
  const id = ID_TERM.exec(raw);
  if (id) return { kind: 'id', id: Number(id[1]), weight };
  if (raw.startsWith('text:')) return { kind: 'text', text: raw.slice('text:'.length), weight };
  if (raw.startsWith('image:')) {
    const file = raw.slice('image:'.length);
    if (!isFile(file)) throw new RsclipError('BAD_QUERY', `image term "${raw}": no such file ${file}`);
    return { kind: 'image', image: file, weight };
  }
  if (isFile(raw)) return { kind: 'image', image: raw, weight };
  return { kind: 'text', text: raw, weight };
}

export function parseQueryTerms(args: string[], isFile: IsFile = isExistingFile): QueryTerm[] {
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
    if (text === '') throw new RsclipError('BAD_QUERY', 'empty query term', { hint: 'remove the empty "" argument' });
    const weighted = WEIGHTED.exec(text);
    const weight = weighted ? Number(weighted[1]) : 1;
    if (!(weight > 0)) throw new RsclipError('BAD_QUERY', `weight of "${text}" must be positive, got ${weight}`, { hint: 'use - before the term to subtract it' });
    terms.push(termOf(weighted ? weighted[2]! : text, sign * weight, isFile));
    sign = 1;
    pendingOperator = undefined;
  }
  if (pendingOperator !== undefined) throw new RsclipError('BAD_QUERY', `the query ends with "${pendingOperator}"`, { hint: 'add a term after it' });
  if (terms.length === 0) throw new RsclipError('BAD_QUERY', 'empty query: expected at least one text, image or id term');
  if (terms.length > MAX_TERMS) throw new RsclipError('BAD_QUERY', `too many query terms: at most ${MAX_TERMS}, got ${terms.length}`);
  return terms;
}
