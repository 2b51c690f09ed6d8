/** `rsclip index copy --from A --to B`: an index moved between a directory and PostgreSQL (either way, or directory to directory), resumably. */
import type { Command } from 'commander';
import type { EngineChoice } from '../store/engines.js';
import { copyIndex } from '../store/postgres/index-copy.js';
import { engineChoice, PLAIN_PROGRESS_INTERVAL_MS, printJson } from './options.js';

export function registerIndexCopyCommand(index: Command): void {
  index
    .command('copy')
    .description('copy an index (files, items with their ids, vectors, places, fields) between a directory and a postgres:// URL, without embedding again; a copy stopped at any point finishes when run again')
    .requiredOption('--from <location>', 'the index to copy: a directory or postgres://user@host/db[?schema=NAME]')
    .requiredOption('--to <location>', 'a new index: a directory or postgres://user@host/db[?schema=NAME] (default schema rsclip)')
    .option('--engine <engine>', "the copy's vector engine, as for a new index (e.g. usearch:f16:efc500; default: the source's): its graph is built from the copied vectors, nothing is embedded again; for a postgres:// target, M and efc set pgvector's HNSW index", engineChoice)
    .option('--json', 'print the summary as JSON')
    .action(async (_opts: unknown, command: Command) => {
      // `--json` and `--engine` are also options of `rsclip index`, which reads them first
      const opts = command.optsWithGlobals<{ from: string; to: string; json?: boolean; engine?: EngineChoice }>();
      const progress = opts.json ? undefined : copyProgress();
      const summary = await copyIndex(opts.from, opts.to, {
        ...(opts.engine ? { engine: opts.engine } : {}),
        onProgress: progress?.rows,
        onGraphBuild: progress && (() => progress.line('building the vector graph file from the copied vectors (minutes for millions)')),
      });
      if (opts.json) {
        printJson(summary);
        return;
      }
      progress?.end();
      if (summary.alreadyCopied) {
        console.log(`${summary.to} already holds the finished copy of ${summary.from}: nothing left to copy`);
        return;
      }
      const { files, items, vectors, item_places: places, fields, file_fields: fileFields } = summary.rows;
      console.log(`${summary.resumed ? 'resumed and finished' : 'copied'} ${summary.from} -> ${summary.to}: ${files} files, ${items} items, ${vectors} vectors, ${places} places, ${fields + fileFields} field values`);
    });
}

/**
 * The copy's progress on stderr: on a terminal one line rewritten in place; otherwise (a log, a
 * pipe) a line per table and at most one every PLAIN_PROGRESS_INTERVAL_MS, each ended.
 */
function copyProgress(): { rows: (p: { table: string; rows: number }) => void; line: (text: string) => void; end: () => void } {
  const tty = process.stderr.isTTY;
  let open = false;
  let table = '';
  let last = 0;
  const line = (text: string) => {
    process.stderr.write(`${open ? '\n' : ''}${text}${tty ? '' : '\n'}`);
    open = tty;
  };
  return {
    rows(p) {
      if (tty) {
        process.stderr.write(`\rcopying ${p.table}: ${p.rows} rows   `);
        open = true;
        return;
      }
      if (p.table === table && Date.now() - last < PLAIN_PROGRESS_INTERVAL_MS) return;
      [table, last] = [p.table, Date.now()];
      line(`copying ${p.table}: ${p.rows} rows`);
    },
    line,
    end() {
      if (open) process.stderr.write('\n');
      open = false;
    },
  };
}
