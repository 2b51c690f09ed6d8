/**
 * A file as the disk knows it: device, inode, size and modification time (ns). A rename keeps
 * all four, so a graph file recorded at its checkpoint is recognised after it is moved into
 * place, and any rewrite or copy gives another identity. Opening a file whose identity matches
 * a checkpoint's record can skip hashing it (seconds per GB); `rsclip doctor` still hashes.
 */
import { fstatSync } from 'node:fs';

export function fileIdentity(fd: number): string {
  const stat = fstatSync(fd, { bigint: true });
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}`;
}
