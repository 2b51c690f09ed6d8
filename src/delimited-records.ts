/**
 * Comma- or tab-separated records as RFC 4180 quotes them (a field in double quotes may hold the
 * separator, line breaks and doubled quotes), read by csv-parse: the evals' labels files and the
 * indexer's field sidecars. Blank lines are left out; each record keeps the line it ends on, for
 * messages.
 */
import path from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';
import { RsclipError, type RsclipErrorCode } from './errors.js';

export interface DelimitedRecord {
  cells: string[];
  /** 1-based line the record ends on. */
  line: number;
}

export interface DelimitedOptions {
  delimiter: ',' | '\t';
  /** The code of the error a malformed file raises. */
  code: RsclipErrorCode;
  /** Leave out whitespace around unquoted values and before and after quotes; inside quotes it stays. */
  trimUnquoted?: boolean;
}

/** Whether `line` holds a tab outside double quotes (a quoted CSV field may hold one). */
function tabOutsideQuotes(line: string): boolean {
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (c === '\t' && !quoted) return true;
  }
  return false;
}

/**
 * The separator of a delimited file: by its extension (.csv, .tsv), else a tab outside quotes
 * in its first line that is not blank makes it tab-separated, and anything else comma-separated.
 */
export function delimiterOf(file: string, firstLine: string | undefined): ',' | '\t' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return ext === '.tsv' ? '\t' : ',';
  return firstLine !== undefined && tabOutsideQuotes(firstLine) ? '\t' : ',';
}

/** The records of `text`; `source` names the file in errors. */
export function parseDelimited(text: string, source: string, options: DelimitedOptions): DelimitedRecord[] {
  try {
    // with `info`, each row is { record, info } (csv-parse's typings leave that option out)
    const rows = parse(text, { delimiter: options.delimiter, record_delimiter: ['\r\n', '\n'], relax_column_count: true, skip_empty_lines: true, trim: options.trimUnquoted === true, info: true }) as unknown as { record: string[]; info: { lines: number } }[];
    return rows.map(({ record, info }) => ({ cells: record, line: info.lines }));
  } catch (cause) {
    if (!(cause instanceof CsvError)) throw cause;
    const line = (cause as CsvError & { lines?: number }).lines;
    throw new RsclipError(options.code, `${source}${line ? `:${line}` : ''}: ${cause.message}`, {
      cause,
      hint: 'quote a whole field that holds the separator, a line break or a quote, and double the quotes inside it ("a ""b"" c"), as RFC 4180 says',
    });
  }
}
