/**
 * An embedded index whose catalog records no model, said for what it is:
 * - a first run killed before it recorded one: the catalog holds nothing, and the same run again
 *   starts the index afresh;
 * - a catalog that lost its meta rows to damage while it holds vectors: nothing may take the
 *   index over (its vectors would be kept as if another model had made them); the message names
 *   what is known (how many vectors, their length, a model recorded by a damaged copy that
 *   `doctor --repair` kept) and how to record the model again (`doctor --repair --model`);
 * - a catalog lost (emptied) beside a graph file, which is only written once a model is
 *   recorded: the graph holds no paths, so the catalog cannot be rebuilt from it.
 */
import Database from 'better-sqlite3';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { modelName } from '../model-binding.js';
import { CATALOG_FILE } from './catalog.js';
import { GRAPH_FILE } from './graph-sync.js';

/** The model recorded by the newest damaged catalog `doctor --repair` kept in `dir` whose meta rows can still be read. */
function modelOfDamagedCopies(dir: string): string | undefined {
  const copies = readdirSync(dir)
    .filter((name) => name.startsWith(`${CATALOG_FILE}.damaged-`) && !/-(wal|shm)$/.test(name))
    .sort()
    .reverse();
  for (const name of copies) {
    let db: Database.Database | undefined;
    try {
      db = new Database(path.join(dir, name), { readonly: true, fileMustExist: true });
      const m = new Map((db.prepare("SELECT key, value FROM meta WHERE key IN ('model_id', 'model_variant', 'model_fingerprint', 'model_dir')").all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
      const fingerprint = m.get('model_fingerprint');
      if (fingerprint) return `${name} records model ${modelName(m.get('model_id') ?? '?', m.get('model_variant'), fingerprint)}${m.has('model_dir') ? ` from ${m.get('model_dir')}` : ''}`;
    } catch {
      // as damaged as the catalog was: it tells nothing
    } finally {
      db?.close();
    }
  }
  return undefined;
}

/**
 * Why the index in `dir` cannot be used without its model record. `vectors`: what the catalog
 * holds; `repairs`: what `doctor --repair` did to the catalog just now, said first.
 */
/**
 * The error for an index folder whose graph file is there while its catalog is empty or missing
 * (`state`), or undefined without a graph file: the graph holds vectors without paths.
 */
export function catalogLost(dir: string, state: 'holds nothing' | 'is missing', before = ''): RsclipError | undefined {
  const graph = statSync(path.join(dir, GRAPH_FILE), { throwIfNoEntry: false });
  if (!graph || graph.size === 0) return undefined;
  return new RsclipError('INDEX_CORRUPT', `${before}index ${dir} has its graph file (${GRAPH_FILE}, ${graph.size} bytes) but its ${CATALOG_FILE} ${state}: the catalog was lost, and the graph (vectors without paths) cannot rebuild it`, {
    hint: `put back ${CATALOG_FILE} from a backup if there is one; otherwise index the archive afresh into an empty --index folder (\`rsclip index <archive dir> --index <new dir> --model <dir>\`)`,
  });
}

export function modelNotRecorded(dir: string, vectors: { count: number; dim: number }, repairs: readonly string[]): RsclipError {
  const rebuilt = repairs.length > 0 ? `${repairs.join('; ')}. ` : '';
  if (vectors.count > 0) {
    const known = modelOfDamagedCopies(dir);
    return new RsclipError(
      'INDEX_CORRUPT',
      `${rebuilt}index ${dir} holds ${vectors.count} vectors of length ${vectors.dim}, but its ${CATALOG_FILE} lost the record of the model that made them (its meta rows were damaged)${known ? `; ${known}` : ''}: no model may use it until that record is restored`,
      {
        hint: `if you know the model that built it, \`rsclip doctor --repair --index ${dir} --model <its dir> --variant <its variant>\` records it again (its vectors must be of length ${vectors.dim}); otherwise index the archive again into a new --index folder`,
      },
    );
  }
  const lost = catalogLost(dir, 'holds nothing', rebuilt);
  if (lost) return lost;
  return new RsclipError('INDEX_CORRUPT', `${rebuilt}index ${dir} has no model recorded in ${CATALOG_FILE}: the first \`rsclip index\` or \`index copy\` into it stopped before it recorded one`, {
    hint: 'run that command again, which starts the index afresh, or delete the directory',
  });
}
