/**
 * A rectangle of pixels of a file, in full-resolution pixel coordinates (rasterio's `Window`):
 * `x`, `y` of the top-left pixel, `width`, `height` in pixels. One type used everywhere, so pixel
 * arithmetic stays here and in the tiling plan.
 */
export interface PixelWindow {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Intersection over union of two windows (0 when they do not overlap). */
export function windowIoU(a: PixelWindow, b: PixelWindow): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/** Whether `inner` lies inside an image of `width` x `height` pixels. */
export function windowInside(inner: PixelWindow, width: number, height: number): boolean {
  return (
    Number.isInteger(inner.x) && Number.isInteger(inner.y) && Number.isInteger(inner.width) && Number.isInteger(inner.height) &&
    inner.x >= 0 && inner.y >= 0 && inner.width > 0 && inner.height > 0 &&
    inner.x + inner.width <= width && inner.y + inner.height <= height
  );
}
