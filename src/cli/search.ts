/** `rsclip search`: query an index directory straight from the command line (no server). */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_INDEX_DIR, loadConfig } from '../config.js';
import { parseQueryTerms } from '../search/cli-terms.js';
import { pageToFeatureCollection } from '../search/hit.js';
import { DEFAULT_COLLAPSE_THRESHOLD, DEFAULT_K, MAX_COLLAPSE_WINDOW, MAX_WINDOW, resultWindow } from '../search/limits.js';
import { DEFAULT_NMS_THRESHOLD } from '../search/nms.js';
import { closeOpenedForSearch, openIndexForSearch } from '../search/open-encoder.js';
import { Searcher } from '../search/searcher.js';
import type { SearchHit, SearchPage, SearchRequest } from '../search/types.js';
import { oneQueryOpening } from './one-query.js';
import { addFilterOptions, filterFromOptions, type FilterOptions } from './filter-options.js';
import { cacheDirOption, collapseOption, modelVariant, nmsOption, positiveInt, printJson, resultCount, resultOffset, searchBreadth } from './options.js';
import { oneField } from '../one-field.js';

interface SearchCommandOptions extends FilterOptions {
  index?: string;
  model?: string;
  variant?: ReturnType<typeof modelVariant>;
  threads?: number;
  k: number;
  offset?: number;
  cursor?: string;
  exact?: boolean;
  ef?: number;
  collapse?: boolean | number;
  nms?: boolean | number;
  format?: 'text' | 'json' | 'geojson';
  allCopies?: boolean;
  json?: boolean;
}

function formatOption(value: string): 'text' | 'json' | 'geojson' {
  if (value === 'text' || value === 'json' || value === 'geojson') return value;
  throw new InvalidArgumentError(`expected text, json or geojson, got "${value}"`);
}

/** What a hit lacks, in its column of the text output. */
const NONE = '-';

/** `@x,y+WxH` for a tile, NONE for a whole image. */
function windowColumn(hit: SearchHit): string {
  const w = hit.window;
  const tile = w.x !== 0 || w.y !== 0 || w.width !== hit.width || w.height !== hit.height || w.scale !== 1;
  return tile ? `@${w.x},${w.y}+${w.width}x${w.height}` : NONE;
}

/** `3 copies` (byte-identical files folded into the hit), `+2 near-duplicates` (folded by --collapse), or NONE. */
function notesColumn(hit: SearchHit): string {
  const notes = [
    ...(hit.copies.length > 0 ? [`${hit.copies.length + 1} copies`] : []),
    ...(hit.duplicates.length > 0 ? [`+${hit.duplicates.length} near-duplicate${hit.duplicates.length > 1 ? 's' : ''}`] : []),
  ];
  return notes.length > 0 ? notes.join(', ') : NONE;
}

/**
 * One hit of the text output: seven tab-separated columns, whatever the hit: score, #id, the file
 * (escaped as oneField escapes it), window, centre lon,lat, stac:COLLECTION/ITEM and notes, with
 * `-` for what the hit lacks.
 */
function hitLine(hit: SearchHit): string {
  const columns = [
    hit.score.toFixed(4),
    `#${hit.id}`,
    oneField(hit.absolutePath ?? hit.path),
    windowColumn(hit),
    hit.center ? `${hit.center[0].toFixed(6)},${hit.center[1].toFixed(6)}` : NONE,
    hit.stac ? `stac:${oneField(hit.stac.collection ? `${hit.stac.collection}/${hit.stac.item}` : hit.stac.item)}` : NONE,
    notesColumn(hit),
  ];
  return `${columns.join('\t')}\n`;
}

const count = (n: number) => n.toLocaleString('en-US');

/** The deepest offset + k a query may ask for, with or without --collapse. */
function windowOf(collapse: boolean | number | undefined): number {
  return resultWindow(collapse !== undefined && collapse !== false);
}

function printPage(page: SearchPage, window: number): void {
  if (page.hits.length === 0) process.stderr.write(page.filtered === 0 ? 'no image passes the filter\n' : 'no results\n');
  for (const hit of page.hits) process.stdout.write(hitLine(hit));
  if (page.nextCursor) {
    const next = page.offset + page.k;
    // the window's last page is shorter: an offset past it is refused
    process.stderr.write(`more: --offset ${next}${next + page.k > window ? ` -k ${window - next}` : ''}\n`);
  }
  else if (page.hits.length === page.k && page.offset + page.k >= window) {
    // a full page at the end of the window: later results may exist, but no page may ask for them
    process.stderr.write(`no further page: --offset + -k may not pass ${count(window)}${window === MAX_COLLAPSE_WINDOW ? ' with --collapse' : ''}; narrow the query with a filter to see later results\n`);
  }
}

export function registerSearchCommand(program: Command): void {
  const command = program
    .command('search')
    .description('search an index by texts, image files and indexed ids, combined with + and -')
    .argument('<terms...>', 'query terms: TEXT, an image FILE, #ID (or id:ID; the item itself is left out of the results), joined by + or -; N*TERM weighs a term; text:/image: force the kind')
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('-m, --model <dir>', 'model directory (default: config "model", else the one the index was last built with)')
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16 (default: the one matching the index)', modelVariant)
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('-k, --k <n>', 'results to print, 1 to 1,000', resultCount, DEFAULT_K)
    .option('--offset <n>', `results to skip (paging); offset + k at most ${count(MAX_WINDOW)} (${count(MAX_COLLAPSE_WINDOW)} with --collapse)`, resultOffset)
    .option('--cursor <cursor>', 'nextCursor of a previous --json page of the same query')
    .option('--exact', 'scan every vector instead of the HNSW graph')
    .option('--ef <n>', 'HNSW search breadth (default: from k, 256 at k 20, 512 for a query with text)', searchBreadth);
  addFilterOptions(command)
    .addOption(new Option('--collapse [threshold]', `fold near-duplicates (cosine >= threshold, in (0, 1], default ${DEFAULT_COLLAPSE_THRESHOLD}; false: none)`).argParser(collapseOption))
    .option('--nms <on|off|share>', `hide a tile covered (share of the smaller window, default ${DEFAULT_NMS_THRESHOLD}) by a better hit of the same scene`, nmsOption)
    .option('--all-copies', 'list files with identical bytes as separate results (default: one result, "n copies")')
    .option('--format <format>', 'text (default), json, or geojson (an RFC 7946 FeatureCollection of the hits)', formatOption)
    .addOption(new Option('--json', 'print the result page as JSON (= --format json)').conflicts('format'))
    .addHelpText(
      'after',
      `
Text output: one line per hit, seven tab-separated columns: score, #id, file (a tab, newline or
other control character escaped as \\t, \\n, \\xHH, a backslash as \\\\), window (@x,y+WxH of a tile),
centre lon,lat, stac:COLLECTION/ITEM, notes (N copies, +N near-duplicates); - where a hit has none.

Examples:
  rsclip search "a bridge over a river with boats"
  rsclip search "stadium" + ./ref.jpg - "parking lot"
  rsclip search 2*"river" + "#1234" --filter folder=2020 --filter label=airport
  rsclip search ./ref.jpg --collapse -k 50 --json
  rsclip search "stadium next to a river" --bbox 12.3,41.8,12.6,42.0 --format geojson > hits.geojson
  rsclip search "airport" --near 12.25,41.8 --radius 10km --since 2023-01-01`,
    )
    .hook('preAction', (self) => {
      const { offset, k, collapse } = self.opts<SearchCommandOptions>();
      const window = windowOf(collapse);
      if (offset !== undefined && offset + k > window) {
        self.error(`error: --offset + -k must be at most ${count(window)}${window === MAX_COLLAPSE_WINDOW ? ' with --collapse' : ''}, got ${offset} + ${k}`, { exitCode: 2, code: 'commander.invalidArgument' });
      }
    })
    .action(async (args: string[], opts: SearchCommandOptions) => {
      const terms = parseQueryTerms(args);
      const { config } = loadConfig();
      const indexDir = opts.index ?? config.index ?? DEFAULT_INDEX_DIR;
      const opening = oneQueryOpening(opts, config, terms);
      opening.encoderOptions = { ...opening.encoderOptions, ...cacheDirOption(config) };
      const opened = await openIndexForSearch(indexDir, opening);
      const { store, encoder } = opened;
      try {
        const request: SearchRequest = { terms, k: opts.k };
        if (opts.offset !== undefined) request.offset = opts.offset;
        if (opts.cursor !== undefined) request.cursor = opts.cursor;
        if (opts.exact) request.exact = true;
        if (opts.ef !== undefined) request.ef = opts.ef;
        const filter = await filterFromOptions(opts);
        if (filter) request.filter = filter;
        if (opts.collapse !== undefined) request.collapse = typeof opts.collapse === 'number' ? { threshold: opts.collapse } : opts.collapse;
        if (opts.nms !== undefined) request.nms = opts.nms;
        if (opts.allCopies) request.foldCopies = false;
        const page = await new Searcher(encoder, store, { absolutePaths: true, embeddedTexts: opening.embeddedTexts }).search(request);
        const format = opts.format ?? (opts.json ? 'json' : 'text');
        for (const notice of page.notices ?? []) process.stderr.write(`rsclip: ${notice}\n`);
        if (format === 'json') printJson(page);
        else if (format === 'geojson') printJson(pageToFeatureCollection(page));
        else printPage(page, windowOf(opts.collapse));
      } finally {
        await closeOpenedForSearch(opened);
      }
    });
}
