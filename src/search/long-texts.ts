/**
 * CLIP reads a text's first `contextLength` tokens (77: start, 75 more, end) and drops the rest,
 * as the Python reference does; a caller whose text is cut is told so, not left to wonder why
 * the end of a long description changes nothing.
 */
import type { ClipEncoder } from '../model/encoder-types.js';
import type { QueryTerm } from './types.js';

/** Characters of the text quoted in a notice. */
const QUOTED = 40;

/** A notice for a text the model reads only the start of, or undefined when it reads all of it. */
export function longTextNotice(encoder: Pick<ClipEncoder, 'info' | 'textTokens'>, text: string): string | undefined {
  const tokens = encoder.textTokens(text);
  const read = encoder.info.contextLength;
  if (tokens <= read) return undefined;
  const quoted = text.length > QUOTED ? `${text.slice(0, QUOTED)}…` : text;
  return `the text "${quoted}" is ${tokens} tokens long: the model reads its first ${read} (start and end included) and ignores the rest`;
}

/** The notices of a query's text terms, each once (a text given twice is one notice). */
export function longTextNotices(encoder: Pick<ClipEncoder, 'info' | 'textTokens'>, terms: readonly QueryTerm[]): string[] {
  const notices = terms.flatMap((term) => {
    const notice = term.kind === 'text' ? longTextNotice(encoder, term.text) : undefined;
    return notice === undefined ? [] : [notice];
  });
  return [...new Set(notices)];
}
