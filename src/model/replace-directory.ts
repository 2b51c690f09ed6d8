import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Moves a finished directory into place by rename, replacing an older one at `to`; readers never see a half-written directory. */
export async function replaceDirectory(from: string, to: string): Promise<void> {
  if (existsSync(to)) {
    const old = `${to}.old-${process.pid}`;
    await rename(to, old);
    await rename(from, to);
    await rm(old, { recursive: true, force: true });
  } else {
    await mkdir(path.dirname(to), { recursive: true });
    await rename(from, to);
  }
}
