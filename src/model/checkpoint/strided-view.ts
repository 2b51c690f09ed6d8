/**
 * Strided views into a flat storage (torch's `as_strided`): checked against the storage before
 * anything is allocated, then copied out in C order. A weight saved by `torch.save` never
 * addresses an element twice; a view that does (a stride of 0, as `expand()` makes, or rows
 * that overlap) lets a file of a few hundred bytes ask for gigabytes, so it is refused.
 */

/** Element offset (including any storage-view offset), sizes and strides, all in elements. */
export interface StridedView {
  offset: number;
  shape: number[];
  stride: number[];
}

export const elementCount = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Why `view` cannot be read from a storage of `storageLength` elements, or undefined when it
 * can: every element it addresses lies inside the storage and no element is addressed twice.
 */
export function viewProblem(view: StridedView, storageLength: number): string | undefined {
  if (view.shape.length !== view.stride.length) return `has ${view.shape.length} sizes but ${view.stride.length} strides`;
  if (elementCount(view.shape) === 0) return undefined;
  let last = view.offset;
  for (let d = 0; d < view.shape.length; d++) last += (view.shape[d]! - 1) * view.stride[d]!;
  if (!Number.isSafeInteger(last) || last >= storageLength) {
    return `reaches element ${last} of a storage holding ${storageLength}`;
  }
  // Sorted by stride, each dimension must step past everything the smaller ones span.
  const dims = view.shape.map((size, d) => ({ size, stride: view.stride[d]! })).filter((d) => d.size > 1);
  dims.sort((a, b) => a.stride - b.stride);
  let span = 1;
  for (const { size, stride } of dims) {
    if (stride < span) {
      return `has sizes [${view.shape.join(', ')}] with strides [${view.stride.join(', ')}], which address some elements more than once (a saved weight never does)`;
    }
    span += (size - 1) * stride;
  }
  return undefined;
}

/** Copies a view that passed `viewProblem` out of its storage as a contiguous C-order array. */
export function gatherView(storage: Float32Array, view: StridedView): Float32Array {
  const numel = elementCount(view.shape);
  if (numel === 0) return new Float32Array(0);
  const first = view.offset;
  let contiguous = true;
  for (let d = view.shape.length - 1, expected = 1; d >= 0; d--) {
    if (view.shape[d]! !== 1 && view.stride[d]! !== expected) contiguous = false;
    expected *= view.shape[d]!;
  }
  if (contiguous) {
    return first === 0 && numel === storage.length ? storage : storage.slice(first, first + numel);
  }
  const out = new Float32Array(numel);
  const rank = view.shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = first;
  for (let i = 0; i < numel; i++) {
    out[i] = storage[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      index[d]!++;
      src += view.stride[d]!;
      if (index[d]! < view.shape[d]!) break;
      src -= view.stride[d]! * view.shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}
