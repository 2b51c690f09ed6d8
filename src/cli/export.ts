/** `rsclip export`: an index's items (or a query's hits) as GeoParquet, Parquet, GeoJSON or CSV. */
import type { Command } from 'commander';
import { DEFAULT_INDEX_DIR, loadConfig, type RsclipConfig } from '../config.js';
import { RsclipError } from '../errors.js';
import { EXPORT_FORMATS, parseExportFormat, type ExportFormat } from '../geo/export-format.js';
import { parseQueryTerms } from '../search/cli-terms.js';
import { exportHits, exportItems } from '../search/export-items.js';
import { DEFAULT_K } from '../search/limits.js';
import { closeOpenedForSearch, openIndexForSearch } from '../search/open-encoder.js';
import { Searcher } from '../search/searcher.js';
import type { SearchRequest } from '../search/types.js';
import { openIndex } from '../store/open-index.js';
import { placedFiles, removeWrittenNow } from '../staged-file.js';
import type { CatalogFilter } from '../store/filter.js';
import type { ItemSelection } from '../store/types.js';
import { oneQueryOpening } from './one-query.js';
import { addFilterOptions, filterFromOptions, type FilterOptions } from './filter-options.js';
import { quitOnSignal } from './interrupt.js';
import { collect, messagesBeside, modelVariant, optionParser, outputFile, printJson, resultCount } from './options.js';

interface ExportCommandOptions extends FilterOptions {
  index?: string;
  format: ExportFormat;
  output?: string;
  query?: string[];
  k: number;
  model?: string;
  variant?: ReturnType<typeof modelVariant>;
  embeddings?: boolean;
  json?: boolean;
}

const EXTENSIONS: Record<ExportFormat, string> = { geoparquet: 'parquet', parquet: 'parquet', geojson: 'geojson', csv: 'csv' };

export function registerExportCommand(program: Command): void {
  const command = program
    .command('export')
    .description('write the items of an index (or the hits of a query) with path, window, place, fields and embedding')
    .requiredOption('--format <format>', `${EXPORT_FORMATS.join(', ')} (GeoParquet 1.1: geometry as WKB, the embedding as a list of floats)`, optionParser(parseExportFormat))
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('-o, --output <file>', 'file to write; - for stdout, and the summary goes to stderr (default: items.parquet, items.geojson or items.csv)', outputFile)
    .option('--query <term>', 'export the hits of this query instead, best first (repeatable, as `rsclip search` terms: TEXT, FILE, #ID, +, -)', collect)
    .option('-k, --k <n>', 'hits to export with --query, 1 to 1,000', resultCount, DEFAULT_K)
    .option('-m, --model <dir>', 'model directory for --query (default: config "model", else the one the index was last built with)')
    .option('--variant <variant>', 'ONNX variant for --query', modelVariant);
  addFilterOptions(command)
    .option('--embeddings', 'GeoJSON and CSV: write the embeddings too (Parquet formats always do)')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Examples:
  rsclip export --format geoparquet -o tiles.parquet
  rsclip export --format geojson --bbox 12.3,41.8,12.6,42.0 -o rome.geojson
  rsclip export --format csv --query "stadium" -k 100 -o stadiums.csv`,
    )
    .action(async (opts: ExportCommandOptions, self: Command) => {
      if (!opts.query && self.getOptionValueSource('k') === 'cli') {
        throw new RsclipError('BAD_INPUT', '-k counts the hits of --query; without --query every item the filters keep is exported', { hint: 'add --query TERM, or leave -k out' });
      }
      const { config } = loadConfig();
      const output = opts.output ?? `items.${EXTENSIONS[opts.format]}`;
      const filter = await filterFromOptions(opts);
      // Ctrl-C ends an export at once, as it always did, but not leaving the file it was writing;
      // once the file is in place, the export is done: a signal from then on is let go, and the
      // process ends at once with status 0 when it has said so (left to end by itself, Node stops
      // listening for signals before it has ended, and a signal then ended it by 130 or 143)
      const releaseSignals = quitOnSignal(removeWrittenNow, () => placedFiles() > 0);
      try {
        const written = await writeExport(opts, config, output, filter);
        const messages = await messagesBeside(output);
        if (opts.json) printJson({ file: output, format: opts.format, items: written }, messages);
        else messages.write(`wrote ${written} items to ${output} (${opts.format})\n`);
      } catch (error) {
        releaseSignals();
        throw error;
      }
      process.exit(0);
    });
}

/** Writes the export to `output`; returns how many items it has. */
async function writeExport(opts: ExportCommandOptions, config: RsclipConfig, output: string, filter: CatalogFilter | undefined): Promise<number> {
  const indexDir = opts.index ?? config.index ?? DEFAULT_INDEX_DIR;
  if (opts.query) {
    const terms = parseQueryTerms(opts.query);
    const opening = oneQueryOpening(opts, config, terms);
    const opened = await openIndexForSearch(indexDir, opening);
    try {
      const request: SearchRequest = { terms, k: opts.k, ...(filter ? { filter } : {}) };
      const page = await new Searcher(opened.encoder, opened.store, { absolutePaths: true, embeddedTexts: opening.embeddedTexts }).search(request);
      for (const notice of page.notices ?? []) process.stderr.write(`rsclip: ${notice}\n`);
      return await exportHits(opened.store, page, output, opts.format, { includeEmbedding: opts.embeddings === true });
    } finally {
      await closeOpenedForSearch(opened);
    }
  }
  const store = await openIndex(indexDir, { readonly: true });
  try {
    const selection: ItemSelection = filter ? { filter } : {};
    return await exportItems({ store, file: output, format: opts.format, selection, includeEmbedding: opts.embeddings === true });
  } finally {
    await store.close();
  }
}
