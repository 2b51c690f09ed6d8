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

/** Bytes of a UTF-8 character starting at `start` in `raw`, or 0 where none does (a stray byte, an overlong or cut-off sequence). */
function utf8CharLength(raw: Uint8Array, start: number): number {
  const lead = raw[start]!;
  const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
  if (length === 0 || start + length > raw.length) return 0;
  const char = Buffer.from(raw.subarray(start, start + length));
  return Buffer.from(char.toString('utf8'), 'utf8').equals(char) ? length : 0;
}

/**
 * A name as bytes that need not be UTF-8 (a file name on Linux) as oneField shows names: its
 * characters escaped as oneField escapes them, and each byte that is no part of a UTF-8
 * character as \xHH. A backslash being doubled, the name holding the four characters `\xff` is
 * shown `\\xff`, never as the byte 0xFF is.
 */
export function oneFieldOfBytes(raw: Uint8Array): string {
  let shown = '';
  for (let i = 0; i < raw.length; ) {
    const length = utf8CharLength(raw, i);
    if (length === 0) {
      shown += `\\x${raw[i]!.toString(16).padStart(2, '0')}`;
      i++;
    } else {
      shown += oneField(Buffer.from(raw.subarray(i, i + length)).toString('utf8'));
      i += length;
    }
  }
  return shown;
}
