/**
 * CSV as RFC 4180 writes it: fields separated by commas, a field in double quotes may hold
 * commas, line breaks and doubled quotes (`""`). Records end at CRLF or LF outside quotes.
 */
import { RsclipError } from '../errors.js';

export interface CsvRecord {
  cells: string[];
  /** 1-based line the record starts on. */
  line: number;
}

/** The records of `text`, blank lines left out; `source` names the file in errors. */
export function parseCsvRecords(text: string, source: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let wasQuoted = false;
  let wasQuotedRecord = false;
  let line = 1;
  let start = 1;
  const endCell = (): void => {
    cells.push(cell);
    cell = '';
    wasQuoted = false;
  };
  const endRecord = (): void => {
    endCell();
    if (cells.length > 1 || cells[0] !== '' || wasQuotedRecord) records.push({ cells, line: start });
    cells = [];
    wasQuotedRecord = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"') {
      if (cell !== '' || wasQuoted) throw new RsclipError('DATASET_INVALID', `${source}:${line}: a double quote inside a field that does not start with one`, { hint: 'quote the whole field and double the quotes inside it ("a ""b"" c"), as RFC 4180 says' });
      quoted = true;
      wasQuoted = true;
      wasQuotedRecord = true;
    } else if (wasQuoted && c !== ',' && c !== '\n' && c !== '\r') {
      throw new RsclipError('DATASET_INVALID', `${source}:${line}: text after the closing quote of a field`, { hint: 'put the whole field inside the quotes' });
    } else if (c === ',') endCell();
    else if (c === '\n') {
      endRecord();
      line++;
      start = line;
    } else if (c === '\r' && text[i + 1] === '\n') continue;
    else cell += c;
  }
  if (quoted) throw new RsclipError('DATASET_INVALID', `${source}:${start}: a quoted field is not closed before the end of the file`);
  endRecord();
  return records;
}
