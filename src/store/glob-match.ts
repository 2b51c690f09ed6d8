/**
 * Path globs matched segment by segment, in time proportional to (glob segments x path segments).
 * picomatch's regular expression for a glob with several `**` backtracks polynomially in the
 * path's depth (`a/**\/a/**\/a/**\/a/**\/c` took 2.8 s on one 240-segment path): a filter evaluated
 * on every row of a catalog would stall the server. Here each `**` is a step of a set of reachable
 * positions, and only a single segment (no `/`, at most FILTER_LIMITS.starsPerGlobSegment stars)
 * is ever given to a regular expression (picomatch's, so that `*`, `?`, classes and in-segment
 * braces mean what they mean in picomatch). Braces whose alternatives hold a `/` are expanded
 * first, at most MAX_GLOB_ALTERNATIVES of them.
 */
import picomatch from 'picomatch';

export const MAX_GLOB_ALTERNATIVES = 64;

type Segment = 'globstar' | RegExp;

/** Top-level brace groups of `glob`: [open, close] indexes (backslash escapes skipped). */
function braceGroups(glob: string): [number, number][] {
  const groups: [number, number][] = [];
  let depth = 0;
  let open = -1;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\') i++;
    else if (c === '{' && depth++ === 0) open = i;
    else if (c === '}' && depth > 0 && --depth === 0) groups.push([open, i]);
  }
  return groups;
}

/** The alternatives of a brace group's content, split at its top-level commas. */
function alternatives(content: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < content.length; i++) {
    const c = content[i];
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(content.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(content.slice(start));
  return parts;
}

/** The globs a glob stands for once every brace group spanning a `/` is expanded; undefined past the limit. */
export function expandPathBraces(glob: string, limit = MAX_GLOB_ALTERNATIVES): string[] | undefined {
  const group = braceGroups(glob).find(([open, close]) => glob.slice(open, close).includes('/'));
  if (!group) return [glob];
  const [open, close] = group;
  const out: string[] = [];
  for (const alternative of alternatives(glob.slice(open + 1, close))) {
    const expanded = expandPathBraces(glob.slice(0, open) + alternative + glob.slice(close + 1), limit - out.length);
    if (!expanded || out.length + expanded.length > limit) return undefined;
    out.push(...expanded);
  }
  return out;
}

/** An empty segment (`a//b`, which braces can make: `a/{x/,}/b`) matches only an empty one, as in picomatch. */
const EMPTY_SEGMENT = /^$/;

function compileSegments(glob: string): Segment[] {
  return glob.split('/').map((segment) => (segment === '**' ? 'globstar' : segment === '' ? EMPTY_SEGMENT : picomatch.makeRe(segment, { dot: true })));
}

/** Whether the path's segments can be consumed by the glob's, tracking every reachable position at once. */
function matchesSegments(glob: readonly Segment[], path: readonly string[]): boolean {
  let reachable = new Uint8Array(path.length + 1);
  reachable[0] = 1;
  for (const segment of glob) {
    const next = new Uint8Array(path.length + 1);
    if (segment === 'globstar') {
      // zero or more whole segments
      let on = 0;
      for (let p = 0; p <= path.length; p++) next[p] = on ||= reachable[p]!;
    } else {
      for (let p = 0; p < path.length; p++) if (reachable[p] && segment.test(path[p]!)) next[p + 1] = 1;
    }
    reachable = next;
  }
  return reachable[path.length] === 1;
}

export class GlobMatcher {
  private readonly alternatives: Segment[][];

  /** Throws on a glob whose `/`-spanning braces stand for more than MAX_GLOB_ALTERNATIVES globs (FILTER_KEYS refuses those first). */
  constructor(readonly glob: string) {
    const globs = expandPathBraces(glob);
    if (!globs) throw new RangeError(`glob "${glob}" stands for more than ${MAX_GLOB_ALTERNATIVES} alternatives`);
    this.alternatives = globs.map(compileSegments);
  }

  test(path: string): boolean {
    const segments = path.split('/');
    return this.alternatives.some((glob) => matchesSegments(glob, segments));
  }

  /** Roughly what the compiled matcher holds, for cache bounds. */
  get sizeBytes(): number {
    return 18 * this.glob.length * this.alternatives.length;
  }
}
