/**
 * What the catalog records about the graph file: the commit sequence it covers, its size and its
 * sha256 (meta keys hnsw_seq, hnsw_bytes, hnsw_sha256). A checkpoint first records the new file
 * as pending (hnsw_next_seq, hnsw_next_sha256), then renames it into place, then makes it
 * current; so a crash between the rename and the last step leaves a file that still matches a
 * record, and a file matching none is damaged. Indexes from before checksums were recorded have
 * a current record without a sha256: their file is trusted after its structural check only.
 * Each record also keeps the file's identity on the disk (hnsw_identity, hnsw_next_identity; see
 * file-identity.ts), so a reader can open a file it recognises without hashing it again.
 */
import type { GraphFileDigest } from '../engines.js';
import type { Catalog } from './catalog.js';

export interface GraphCheckpoint {
  /** The last commit the file includes. */
  seq: number;
  sha256: string | undefined;
  bytes: number | undefined;
  identity: string | undefined;
}

/** The current checkpoint (if any file was ever checkpointed) and a pending one (if a checkpoint was cut short). */
export function recordedCheckpoints(catalog: Catalog): GraphCheckpoint[] {
  const meta = catalog.getMeta();
  const out: GraphCheckpoint[] = [];
  const seq = Number(meta.get('hnsw_seq') ?? -1);
  if (seq >= 0) {
    const bytes = meta.get('hnsw_bytes');
    out.push({ seq, sha256: meta.get('hnsw_sha256') || undefined, bytes: bytes ? Number(bytes) : undefined, identity: meta.get('hnsw_identity') || undefined });
  }
  const nextSeq = Number(meta.get('hnsw_next_seq') ?? -1);
  const nextSha = meta.get('hnsw_next_sha256');
  if (nextSeq >= 0 && nextSha) out.push({ seq: nextSeq, sha256: nextSha, bytes: undefined, identity: meta.get('hnsw_next_identity') || undefined });
  return out;
}

/** The sha256 recorded for the file with `identity`, if a checkpoint recorded both. */
export function recordedSha256(checkpoints: readonly GraphCheckpoint[], identity: string): string | undefined {
  return checkpoints.find((c) => c.identity === identity && c.sha256 !== undefined)?.sha256;
}

/** The checkpoint a file with `digest` is: one with the same sha256, else one that recorded none; undefined when none fits. */
export function matchCheckpoint(checkpoints: readonly GraphCheckpoint[], digest: GraphFileDigest): GraphCheckpoint | undefined {
  return checkpoints.find((c) => c.sha256 === digest.sha256) ?? checkpoints.find((c) => c.sha256 === undefined);
}

/** Before the rename: the file about to become current. */
export function recordPendingCheckpoint(catalog: Catalog, seq: number, digest: GraphFileDigest): void {
  catalog.setMeta({ hnsw_next_seq: seq, hnsw_next_sha256: digest.sha256, hnsw_next_identity: digest.identity });
}

/** After the rename: the file in place covers `seq`; without a digest the file did not change, only the sequence it covers. */
export function recordCheckpoint(catalog: Catalog, seq: number, digest?: GraphFileDigest): void {
  if (!digest) {
    catalog.setMeta({ hnsw_seq: seq });
    return;
  }
  catalog.setMeta({ hnsw_seq: seq, hnsw_sha256: digest.sha256, hnsw_bytes: digest.bytes, hnsw_identity: digest.identity, hnsw_next_seq: -1, hnsw_next_sha256: '', hnsw_next_identity: '' });
}

/** Why a file with `digest` fits no record, in words. */
export function describeMismatch(checkpoints: readonly GraphCheckpoint[], digest: GraphFileDigest): string {
  const current = checkpoints[0];
  if (!current) return 'no checkpoint of it was ever recorded';
  const expected = current.sha256 ? `sha256 ${current.sha256.slice(0, 12)}, ${current.bytes ?? '?'} bytes` : 'unknown';
  return `its checksum (sha256 ${digest.sha256.slice(0, 12)}, ${digest.bytes} bytes) is not the one recorded at its last checkpoint (${expected})`;
}
