/**
 * When a search over a selection (a filter, a list of ids) scores the selected vectors exactly
 * instead of walking the graph: both back ends' planners decide by this, and `rsclip eval` says
 * which of the two its searches were.
 */
/** Selections allowing at most this share of the index (or this many items) are searched exactly. */
const EXACT_SELECTION_SHARE = 0.05;
const EXACT_SELECTION_MIN = 2000;

/** The largest selection of an index of `indexed` vectors that is scored exactly. */
export function exactSelectionLimit(indexed: number): number {
  return Math.floor(Math.max(EXACT_SELECTION_MIN, indexed * EXACT_SELECTION_SHARE));
}
