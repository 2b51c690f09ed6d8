/**
 * A name or message as one field of a tab-separated line: tabs, newlines and other control
 * characters (legal in file names) are shown escaped (\t, \n, \r, \xHH), so that one record
 * stays one line, and so is a backslash (\\), so that a name holding the two characters `\n`
 * is not taken for one holding a line break; `--json` gives them exact.
 */
export function oneField(text: string): string {
  const named: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\' };
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) => named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
