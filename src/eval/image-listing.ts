/**
 * The image files of an evaluation dataset: directly in a folder (RSICD) or at any depth (one
 * folder per class). Symbolic links are followed, to files and to folders (a class folder linked
 * into place), a link back to a folder being walked is not (a loop). Hidden files and folders and
 * the system folders the indexer skips (`.x`, `._x.jpg`, `@eaDir`, ...), and the `__MACOSX` folder
 * of a zip made on a Mac, are not dataset content. A name that is not valid UTF-8 is refused: no
 * path string could open it.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { isHiddenEntry, isImagePath } from '../indexer/scan.js';
import { compareCodeUnits } from './dataset.js';

/** The folder macOS's Archive Utility adds to a zip, holding `._x` resource forks. */
const MACOS_ZIP_FOLDER = '__MACOSX';

interface Entry {
  name: string;
  isFolder: boolean;
  isFile: boolean;
}

function utf8Name(raw: Buffer): string | undefined {
  const name = raw.toString('utf8');
  return Buffer.from(name, 'utf8').equals(raw) ? name : undefined;
}

/** The files (and, when asked, folders) of `dir` that are dataset content; links resolved, dangling ones left out. */
async function datasetEntries(dir: string, withFolders: boolean): Promise<Entry[]> {
  let raw;
  try {
    raw = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch (cause) {
    throw new RsclipError('NOT_FOUND', `cannot read the images folder ${dir}: ${(cause as Error).message}`, { cause });
  }
  const entries = await Promise.all(
    raw.map(async (e): Promise<Entry | undefined> => {
      const target = e.isSymbolicLink() ? await stat(Buffer.concat([Buffer.from(dir + path.sep), e.name])).catch(() => undefined) : undefined;
      const isFolder = e.isDirectory() || target?.isDirectory() === true;
      const isFile = e.isFile() || target?.isFile() === true;
      if (isFolder && !withFolders) return undefined;
      const name = utf8Name(e.name);
      if (name === undefined) {
        if (!isFolder && !(isFile && isImagePath(e.name.toString('latin1')))) return undefined;
        throw new RsclipError('DATASET_INVALID', `${dir} holds a ${isFolder ? 'folder' : 'file'} whose name is not valid UTF-8 (${e.name.toString('latin1')} read as Latin-1)`, {
          hint: `rename it in UTF-8 (e.g. convmv -f latin1 -t utf8 --notest), or move it out of ${dir}`,
        });
      }
      if (isHiddenEntry(name, isFolder) || (isFolder && name === MACOS_ZIP_FOLDER)) return undefined;
      return { name, isFolder, isFile };
    }),
  );
  return entries.filter((e): e is Entry => e !== undefined);
}

/** Image file names directly inside `dir`, sorted by code unit (as Python's `sorted`). */
export async function listImageFiles(dir: string): Promise<string[]> {
  const names = (await datasetEntries(dir, false)).filter((e) => e.isFile && isImagePath(e.name)).map((e) => e.name);
  if (names.length === 0) throw new RsclipError('DATASET_INVALID', `no images in ${dir}: expected .jpg/.png/.tif files directly in the folder`);
  return names.sort(compareCodeUnits);
}

/** Image files under `dir` (any depth), as sorted `/`-separated paths relative to it. */
export async function listImagesRecursively(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (folder: string, relative: string, walking: ReadonlySet<string>): Promise<void> => {
    for (const entry of await datasetEntries(folder, true)) {
      const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isFile && isImagePath(entry.name)) files.push(rel);
      if (!entry.isFolder) continue;
      const real = await realpath(path.join(folder, entry.name));
      if (!walking.has(real)) await walk(path.join(folder, entry.name), rel, new Set([...walking, real]));
    }
  };
  await walk(dir, '', new Set([await realpath(dir).catch(() => path.resolve(dir))]));
  if (files.length === 0) throw new RsclipError('DATASET_INVALID', `no images under ${dir}: expected .jpg/.png/.tif files, in one folder per class or with --labels`);
  return files.sort(compareCodeUnits);
}
