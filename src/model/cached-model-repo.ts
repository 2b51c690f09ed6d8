/** Which Hub repo a folder of the model cache holds (hub/cache.ts's layout), so a message can say what to fetch again. */
import path from 'node:path';

/** The repo id of a model directory `<cache>/models/<owner>--<name>/<commit-sha>`; undefined for any other folder. */
export function cachedRepoIdOf(modelDir: string): string | undefined {
  const commit = path.basename(modelDir);
  const repo = path.basename(path.dirname(modelDir));
  const models = path.basename(path.dirname(path.dirname(modelDir)));
  const parts = repo.split('--');
  if (models !== 'models' || !/^[0-9a-f]{40}$/.test(commit) || parts.length !== 2 || parts.some((p) => !/^[\w.-]+$/.test(p))) return undefined;
  return parts.join('/');
}
