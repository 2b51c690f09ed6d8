/** `rsclip index copy --from A --to B`: an index moved between a directory and PostgreSQL (either way, or directory to directory), resumably. */
import type { Command } from 'commander';
import { copyIndex } from '../store/postgres/index-copy.js';
import { printJson } from './options.js';

export function registerIndexCopyCommand(index: Command): void {
  index
    .command('copy')
    .description('copy an index (files, items with their ids, vectors, places, fields) between a directory and a postgres:// URL, without embedding again; a copy stopped at any point finishes when run again')
    .requiredOption('--from <location>', 'the index to copy: a directory or postgres://user@host/db[?schema=NAME]')
    .requiredOption('--to <location>', 'a new index: a directory or postgres://user@host/db[?schema=NAME] (default schema rsclip)')
    .option('--json', 'print the summary as JSON')
    .action(async (_opts: unknown, command: Command) => {
      // `--json` is also an option of `rsclip index`, which reads it first
      const opts = command.optsWithGlobals<{ from: string; to: string; json?: boolean }>();
      const summary = await copyIndex(opts.from, opts.to, {
        onProgress: opts.json ? undefined : ({ table, rows }) => process.stderr.write(`\rcopying ${table}: ${rows} rows   `),
        onGraphBuild: opts.json ? undefined : () => process.stderr.write('\nbuilding the vector graph file from the copied vectors (minutes for millions)'),
      });
      if (opts.json) {
        printJson(summary);
        return;
      }
      process.stderr.write('\n');
      if (summary.alreadyCopied) {
        console.log(`${summary.to} already holds the finished copy of ${summary.from}: nothing left to copy`);
        return;
      }
      const { files, items, vectors, item_places: places, fields, file_fields: fileFields } = summary.rows;
      console.log(`${summary.resumed ? 'resumed and finished' : 'copied'} ${summary.from} -> ${summary.to}: ${files} files, ${items} items, ${vectors} vectors, ${places} places, ${fields + fileFields} field values`);
    });
}
