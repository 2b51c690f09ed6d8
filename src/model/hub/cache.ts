/**
 * The model cache on disk:
 *   <cache>/models/<owner>--<name>/refs/<revision>      commit sha the revision pointed at
 *   <cache>/models/<owner>--<name>/<commit-sha>/         a complete model directory (ONNX layout)
 *   <cache>/models/<owner>--<name>/<commit-sha>.files.json  its files' sizes and sha256 (cache-manifest.ts)
 *   <cache>/models/<owner>--<name>/downloads/<commit-sha>/  repository files being downloaded
 *                                                         (`*.incomplete` until verified)
 *   <cache>/models/<owner>--<name>/downloads/<commit-sha>.lock  pid of the process fetching it
 * A `<commit-sha>` directory only ever appears by rename once it is complete, so its
 * existence means "ready"; the ref is written after it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { processAlive } from '../../process-alive.js';

/** `$RSCLIP_CACHE_DIR`, else `$XDG_CACHE_HOME/rsclip`, else `~/.cache/rsclip`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RSCLIP_CACHE_DIR) return path.resolve(env.RSCLIP_CACHE_DIR);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'rsclip');
  return path.join(homedir(), '.cache', 'rsclip');
}

export const isCommitSha = (revision: string): boolean => /^[0-9a-f]{40}$/.test(revision);

export class ModelCache {
  readonly repoDir: string;

  constructor(cacheDir: string, repoId: string) {
    this.repoDir = path.join(cacheDir, 'models', repoId.split('/').join('--'));
  }

  modelDir(commit: string): string {
    return path.join(this.repoDir, commit);
  }

  downloadDir(commit: string): string {
    return path.join(this.repoDir, 'downloads', commit);
  }

  /**
   * Takes the lock on fetching `commit`, so that two rsclip processes never append to the
   * same partial file; a lock whose process is gone is taken over. Returns the release.
   */
  async lock(commit: string): Promise<() => Promise<void>> {
    const file = path.join(this.repoDir, 'downloads', `${commit}.lock`);
    await mkdir(path.dirname(file), { recursive: true });
    for (let tries = 0; ; tries++) {
      try {
        await writeFile(file, String(process.pid), { flag: 'wx' });
        return () => rm(file, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) throw error;
      }
      const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new RsclipError('MODEL_FETCH_FAILED', `another rsclip process (pid ${holder}) is fetching ${path.basename(this.repoDir)}@${commit.slice(0, 12)}`, {
          hint: `wait for it to finish and run the command again (or delete ${file} if that process is not rsclip)`,
        });
      }
      await rm(file, { force: true });
    }
  }

  private refFile(revision: string): string {
    return path.join(this.repoDir, 'refs', encodeURIComponent(revision));
  }

  /** The commit a revision resolved to last time, if it was cached. */
  async readRef(revision: string): Promise<string | undefined> {
    if (isCommitSha(revision)) return revision;
    const file = this.refFile(revision);
    if (!existsSync(file)) return undefined;
    const commit = (await readFile(file, 'utf8')).trim();
    return isCommitSha(commit) ? commit : undefined;
  }

  /**
   * The model directory cached for this repo, without any request: the commit its `main` was
   * fetched at, else the one its most recently fetched revision was; undefined when none is.
   */
  fetchedModelDir(): string | undefined {
    let names: string[];
    try {
      names = readdirSync(path.join(this.repoDir, 'refs'));
    } catch {
      return undefined;
    }
    const fetched = names.flatMap((name) => {
      const file = path.join(this.repoDir, 'refs', name);
      try {
        const commit = readFileSync(file, 'utf8').trim();
        const dir = this.modelDir(commit);
        return isCommitSha(commit) && statSync(dir).isDirectory() ? [{ name: decodeURIComponent(name), dir, at: statSync(file).mtimeMs }] : [];
      } catch {
        return [];
      }
    });
    const main = fetched.find((f) => f.name === 'main');
    return (main ?? fetched.sort((a, b) => b.at - a.at)[0])?.dir;
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (isCommitSha(revision)) return;
    const file = this.refFile(revision);
    await mkdir(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, `${commit}\n`);
    await rename(temp, file);
  }
}

