/**
 * How an integer is written wherever rsclip reads one from text (a CLI option, an HTTP query
 * parameter): plain decimal digits with a leading minus at most. `1e3`, `0x10`, `1.0`, `+5`,
 * ` 5` and `5 ` are not integers here, though Number() would take them.
 */

/** Whether `text` is written as a plain decimal integer (however large). */
export function isDecimalIntegerText(text: string): boolean {
  return /^-?\d+$/.test(text);
}

/** A plain decimal integer as a number; NaN for any other text, and for one past Number.MAX_SAFE_INTEGER. */
export function decimalInteger(value: string): number {
  const n = isDecimalIntegerText(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(n) ? n : Number.NaN;
}
