import { realpathSync } from 'node:fs';
import path from 'node:path';

/** Whether `real` is `realRoot` itself or lies under it (both real paths, symbolic links resolved). */
export function isInside(realRoot: string, real: string): boolean {
  const relative = path.relative(realRoot, real);
  return relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

/** The real path of `p` (links followed), or `p` resolved where it does not exist (yet). */
export function realPathOrResolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}
