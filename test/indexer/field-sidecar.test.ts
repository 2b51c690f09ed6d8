import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSidecar } from '../../src/indexer/field-sidecar.js';
import type { FieldRecord } from '../../src/store/index.js';
import { expectRsclipError } from '../fixtures/errors.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-sidecar-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sidecar(name: string, text: string): string {
  const file = path.join(work, name);
  writeFileSync(file, text);
  return file;
}

const asObjects = (records: FieldRecord[]) => records.map((r) => ({ fileName: r.fileName, fields: Object.fromEntries(r.fields) }));

describe('readSidecar', () => {
  it('reads CSV with quoted cells, the first file-name column, and base names of paths', async () => {
    const file = sidecar('a.csv', 'name,path,label,caption\r\nx,scenes/2020/a.jpg,airport,"a ""big"" one, with a comma"\ny,C:\\\\data\\\\b.png,,plain\n\n');
    expect(asObjects(await readSidecar(file))).toEqual([
      { fileName: 'x', fields: { path: ['scenes/2020/a.jpg'], label: ['airport'], caption: ['a "big" one, with a comma'] } },
      { fileName: 'y', fields: { path: ['C:\\\\data\\\\b.png'], label: [], caption: ['plain'] } },
    ]);
    const byPath = sidecar('b.csv', 'path,label\nscenes/2020/a.jpg,airport\nC:\\data\\b.png,port\n');
    expect((await readSidecar(byPath)).map((r) => r.fileName)).toEqual(['a.jpg', 'b.png']);
  });

  it('reads a quoted CSV cell that holds a line break as one value, and names the line of a quote left open', async () => {
    const file = sidecar('multi.csv', 'filename,caption\na.jpg,"two\nlines"\nb.jpg,one\n');
    expect(asObjects(await readSidecar(file))).toEqual([
      { fileName: 'a.jpg', fields: { caption: ['two\nlines'] } },
      { fileName: 'b.jpg', fields: { caption: ['one'] } },
    ]);
    await expect(readSidecar(sidecar('open.csv', 'filename,caption\na.jpg,"open\n'))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/open\.csv:2: Quote Not Closed/) });
  });

  it('reads TSV by extension or by a tab in the header', async () => {
    const expected = [{ fileName: 'a.jpg', fields: { label: ['airport'], cloud: ['0.1'] } }];
    expect(asObjects(await readSidecar(sidecar('l.tsv', 'filename\tlabel\tcloud\na.jpg\tairport\t0.1\n')))).toEqual(expected);
    expect(asObjects(await readSidecar(sidecar('l.txt', 'file_name\tlabel\tcloud\na.jpg\tairport\t0.1\n')))).toEqual(expected);
  });

  it('reads JSONL: arrays are several values, numbers stay numbers, other values become text', async () => {
    const file = sidecar('f.jsonl', ['{"file": "dir/a.jpg", "tags": ["x", 2], "cloud": 0.5, "ok": true, "meta": {"k": 1}, "none": null}', '{"file": "b.jpg"}'].join('\n'));
    expect(asObjects(await readSidecar(file))).toEqual([
      { fileName: 'a.jpg', fields: { tags: ['x', 2], cloud: [0.5], ok: ['true'], meta: ['{"k":1}'], none: [] } },
      { fileName: 'b.jpg', fields: {} },
    ]);
  });

  it('says what is wrong, with the file and the line', async () => {
    await expectRsclipError(readSidecar(sidecar('nokey.csv', 'label,year\nairport,2010\n')), 'BAD_INPUT', /has no file-name column: expected one of filename, file_name, file, name, path, found label, year/);
    await expectRsclipError(readSidecar(sidecar('bad.jsonl', '{"file": "a.jpg"}\n{oops\n')), 'BAD_INPUT', /line 2 is not JSON/);
    await expectRsclipError(readSidecar(path.join(work, 'missing.csv')), 'BAD_INPUT', /cannot read fields file/);
  });
});
