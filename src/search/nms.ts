/**
 * Non-maximum suppression of tiles: a hit whose window is covered, for at least `threshold` of
 * the smaller window's area, by a better-ranked hit of the same scene (its file, or the files of
 * identical content when copies are folded) is left out. With the
 * default plan (overlap 0.25) neighbouring tiles share a quarter and both stay; a tile inside a
 * larger-scale tile of the same place, or tiles of a denser overlap, are folded into the best.
 */
import type { ItemWindow } from '../store/types.js';

export const DEFAULT_NMS_THRESHOLD = 0.5;

/** The share a request's `nms` suppresses at (true and absent: the default), or undefined when it is off. */
export function nmsShare(nms: boolean | number | undefined): number | undefined {
  return nms === false ? undefined : typeof nms === 'number' ? nms : DEFAULT_NMS_THRESHOLD;
}

/** Intersection over the smaller window's area, 0 when they do not overlap. */
export function overlapOfSmaller(a: ItemWindow, b: ItemWindow): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / Math.min(a.width * a.height, b.width * b.height);
}

export interface PlacedHit {
  /** Windows are compared within one scene: a file id, or a content hash. */
  scene: number | string;
  window: ItemWindow;
}

/** The entries to keep, best first: those not overlapping a kept one of the same scene. Entries without a known item are kept. */
export function suppressOverlaps<T>(entries: readonly T[], idOf: (entry: T) => number, itemOf: (id: number) => PlacedHit | undefined, threshold: number): T[] {
  const keptByScene = new Map<number | string, ItemWindow[]>();
  return entries.filter((entry) => {
    const item = itemOf(idOf(entry));
    if (!item) return true;
    const kept = keptByScene.get(item.scene) ?? [];
    if (kept.some((w) => overlapOfSmaller(w, item.window) >= threshold)) return false;
    kept.push(item.window);
    keptByScene.set(item.scene, kept);
    return true;
  });
}
