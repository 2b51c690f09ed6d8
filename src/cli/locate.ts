/** `rsclip locate`: where in one scene the query is (tile scores, the best boxes, a heat map). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_INDEX_DIR, loadConfig } from '../config.js';
import { RsclipError } from '../errors.js';
import { prepareReportFolder } from '../eval/report.js';
import { locateToFeatureCollection } from '../locate/locate-geojson.js';
import { DEFAULT_LOCATE_TOP, indexTiling, MAX_LOCATE_TOP, locateInImage, locateInIndexedFile, type LocateResult } from '../locate/locate.js';
import { parseQueryTerms } from '../search/cli-terms.js';
import { DEFAULT_NMS_THRESHOLD } from '../search/nms.js';
import { closeOpenedForSearch, openIndexForSearch } from '../search/open-encoder.js';
import { Searcher } from '../search/searcher.js';
import type { FileRecord, IndexStore } from '../store/types.js';
import { oneQueryOpening } from './one-query.js';
import { integerFrom, modelVariant, nmsOption, positiveInt, printJson } from './options.js';

interface LocateCommandOptions {
  index?: string;
  model?: string;
  variant?: ReturnType<typeof modelVariant>;
  threads?: number;
  top: number;
  nms?: boolean | number;
  out?: string;
  format?: 'text' | 'json' | 'geojson';
}

function formatOption(value: string): 'text' | 'json' | 'geojson' {
  if (value === 'text' || value === 'json' || value === 'geojson') return value;
  throw new InvalidArgumentError(`expected text, json or geojson, got "${value}"`);
}

/** The indexed file a SCENE argument names: `#ID` (an item id: its file) or a path the index has; undefined for a file the index does not have. */
async function indexedFileOf(store: IndexStore, scene: string): Promise<FileRecord | undefined> {
  const id = /^(?:#|id:)(\d+)$/.exec(scene)?.[1];
  if (id !== undefined) {
    const [item] = await store.getItems([Number(id)]);
    if (!item || item.file.status !== 'ok') throw new RsclipError('NOT_FOUND', `no indexed image with id ${id}`, { hint: 'ids come from search results (#id)' });
    return item.file;
  }
  const file = await store.findFileByPath(path.resolve(scene));
  return file?.status === 'ok' && file.absolutePath === path.resolve(scene) ? file : undefined;
}

/** The result without the heat map's bytes (they go to --out). */
function resultJson(result: LocateResult): unknown {
  const { png: _png, ...heatMap } = result.heatMap;
  return { ...result, heatMap };
}

function writeOutputs(dir: string, result: LocateResult): void {
  writeFileSync(path.join(dir, 'tiles.geojson'), `${JSON.stringify(locateToFeatureCollection(result))}\n`);
  writeFileSync(path.join(dir, 'heatmap.png'), result.heatMap.png);
  writeFileSync(path.join(dir, 'locate.json'), `${JSON.stringify(resultJson(result), null, 2)}\n`);
}

function printTop(result: LocateResult): void {
  for (const tile of result.top) {
    const w = tile.window;
    const centre = tile.place ? `\t${tile.place.center[0].toFixed(6)},${tile.place.center[1].toFixed(6)}` : '';
    process.stdout.write(`${tile.score.toFixed(4)}\t@${w.x},${w.y}+${w.width}x${w.height}${centre}\n`);
  }
}

export function registerLocateCommand(program: Command): void {
  program
    .command('locate')
    .description('score every tile of one scene against a query: the best boxes, per-tile scores as GeoJSON and a heat map')
    .argument('<scene>', 'the scene: an indexed file, #ID of one of its items, or any image (tiled and embedded on the fly)')
    .argument('<terms...>', 'query terms as for `rsclip search`: TEXT, an image FILE, #ID, joined by + or -')
    .option('--index <dir>', `index directory, whose model is used (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('-m, --model <dir>', 'model directory (default: config "model", else the one the index was last built with)')
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16 (default: the one matching the index)', modelVariant)
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--top <n>', `best boxes to print, 1 to ${MAX_LOCATE_TOP.toLocaleString('en-US')}`, integerFrom(1, MAX_LOCATE_TOP), DEFAULT_LOCATE_TOP)
    .option('--nms <on|off|share>', `hide a tile covered (share of the smaller window, default ${DEFAULT_NMS_THRESHOLD}) by a better one; off keeps every box`, nmsOption)
    .option('--out <dir>', 'write tiles.geojson (every tile with its score), heatmap.png and locate.json (boxes, heat map bounds) there')
    .option('--format <format>', 'text (default: the best boxes), json (the whole result), or geojson (every tile)', formatOption)
    .addHelpText(
      'after',
      `
Examples:
  rsclip locate scenes/rome.tif "a stadium" --out rome-stadium
  rsclip locate "#1234" ./ref.png - "parking lot" --top 10
  rsclip locate new-scene.tif "a harbour with boats" --format geojson > harbour.geojson`,
    )
    .action(async (scene: string, args: string[], opts: LocateCommandOptions) => {
      const terms = parseQueryTerms(args);
      if (opts.out) await prepareReportFolder(opts.out, 'output folder');
      const { config } = loadConfig();
      const opening = oneQueryOpening(opts, config, terms);
      const opened = await openIndexForSearch(opts.index ?? config.index ?? DEFAULT_INDEX_DIR, opening);
      const { store, encoder } = opened;
      try {
        const query = await new Searcher(encoder, store, { embeddedTexts: opening.embeddedTexts }).queryVector(terms);
        const options = { top: opts.top, ...(opts.nms === undefined || opts.nms === true ? {} : { nmsThreshold: opts.nms }) };
        const file = await indexedFileOf(store, scene);
        const result = file
          ? await locateInIndexedFile(store, file, query, options)
          : await locateInImage(encoder, path.resolve(scene), scene, query, { ...options, ...indexTiling(store.meta) });
        process.stderr.write(`${result.tiles.length} tile${result.tiles.length === 1 ? '' : 's'} of ${result.scene.path} scored (${file ? 'indexed' : 'tiled on the fly'})${result.scene.complete ? '' : '; the scene is not fully indexed yet'}\n`);
        if (opts.out) writeOutputs(opts.out, result);
        const format = opts.format ?? 'text';
        if (format === 'json') printJson(resultJson(result));
        else if (format === 'geojson') printJson(locateToFeatureCollection(result));
        else printTop(result);
      } finally {
        await closeOpenedForSearch(opened);
      }
    });
}
