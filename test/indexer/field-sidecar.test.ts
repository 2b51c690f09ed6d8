import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeRows } from '../../src/geo/index.js';
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

  it("reads back the names rsclip's CSV export guarded against spreadsheet formulas as they are, and a name starting with a quote of its own", async () => {
    const names = ['+east.jpg', '-north.jpg', '=x.jpg', '@y.jpg', '\tz.jpg', "'=quoted.jpg", "''-twice.jpg", "'plain.jpg", 'a-b.jpg'];
    const file = path.join(work, 'exported.csv');
    await writeRows(
      file,
      'csv',
      names.map((name, i) => ({ id: i + 1, path: name, root: '/archive', window: { x: 0, y: 0, width: 224, height: 224, scale: 1 }, footprint: null, stac: { item: '-item' }, fields: { label: '-1' } })),
    );
    expect(asObjects(await readSidecar(file))).toEqual(names.map((name) => ({ fileName: name, fields: { label: ['-1'] } })));
    // a sidecar written by hand: a quote is left out only before = + - @ TAB CR
    const byHand = sidecar('by-hand.csv', "filename,label\n'+east.jpg,'-1\n'plain.jpg,'x\n+raw.jpg,+2\n");
    expect(asObjects(await readSidecar(byHand))).toEqual([
      { fileName: '+east.jpg', fields: { label: ['-1'] } },
      { fileName: "'plain.jpg", fields: { label: ["'x"] } },
      { fileName: '+raw.jpg', fields: { label: ['+2'] } },
    ]);
    // rsclip writes no TSV: a tab-separated sidecar is read as it is
    const tsv = sidecar('quoted.tsv', "filename\tlabel\n'+east.jpg\tx\n");
    expect((await readSidecar(tsv)).map((r) => r.fileName)).toEqual(["'+east.jpg"]);
  });

  it("reads an exported CSV's user fields and the columns added to it, not its own columns: the tiles of a scene give one file the same fields", async () => {
    const file = path.join(work, 'tiles.csv');
    const tile = (id: number, x: number) => ({ id, path: 'scenes/mosaic.tif', root: '/archive', window: { x, y: 0, width: 224, height: 224, scale: 1 }, footprint: null, fields: { label: 'farmland', year: [2019, 2020] }, embedding: Float32Array.of(x / 448, 0.5) });
    await writeRows(file, 'csv', [tile(1, 0), tile(2, 224), { ...tile(3, 0), path: 'other.png', fields: {} }], { includeEmbedding: true });
    // a column the user adds to the export
    const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
    writeFileSync(file, lines.map((line, i) => `${line},${i === 0 ? 'checked' : 'yes'}`).join('\r\n'));
    expect(asObjects(await readSidecar(file))).toEqual([
      { fileName: 'mosaic.tif', fields: { label: ['farmland'], year: [2019, 2020], checked: ['yes'] } },
      { fileName: 'other.png', fields: { checked: ['yes'] } },
    ]);
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

  it('refuses rows that give different fields to one base name, naming it and their lines, and keeps identical rows once', async () => {
    const paths = sidecar('paths.csv', 'path,label\na/x.jpg,airport\nc/y.jpg,port\nb/x.jpg,beach\n');
    await expectRsclipError(readSidecar(paths), 'BAD_INPUT', /paths\.csv gives different fields to the file name x\.jpg in 2 rows \(line 2: a\/x\.jpg, line 4: b\/x\.jpg\): fields are keyed by file name/);
    const twice = sidecar('twice.jsonl', '{"file": "x.jpg", "label": "airport"}\n\n{"file": "x.jpg", "label": "beach"}\n');
    await expectRsclipError(readSidecar(twice), 'BAD_INPUT', /gives different fields to the file name x\.jpg in 2 rows \(line 1: x\.jpg, line 3: x\.jpg\)/);
    const same = sidecar('same.jsonl', '{"file": "a/x.jpg", "label": "airport", "year": 2010}\n{"year": 2010, "label": "airport", "file": "b/x.jpg"}\n{"file": "y.jpg"}\n');
    expect(asObjects(await readSidecar(same))).toEqual([
      { fileName: 'x.jpg', fields: { label: ['airport'], year: [2010] } },
      { fileName: 'y.jpg', fields: {} },
    ]);
  });

  it('reads a sidecar that starts with a byte order mark, keeps spaces inside quotes, and refuses a column named twice', async () => {
    expect(asObjects(await readSidecar(sidecar('bom.jsonl', '\uFEFF{"file": "a.jpg", "label": "airport"}\n')))).toEqual([{ fileName: 'a.jpg', fields: { label: ['airport'] } }]);
    expect(asObjects(await readSidecar(sidecar('bom.csv', '\uFEFFfilename,label\na.jpg,airport\n')))).toEqual([{ fileName: 'a.jpg', fields: { label: ['airport'] } }]);
    expect(asObjects(await readSidecar(sidecar('spaces.csv', 'filename , label,code\n a.jpg ," two  words ", 007 \n')))).toEqual([{ fileName: 'a.jpg', fields: { label: [' two  words '], code: ['007'] } }]);
    await expectRsclipError(readSidecar(sidecar('repeated.csv', 'filename,label,label\na.jpg,airport,beach\n')), 'BAD_INPUT', /repeated\.csv names the column "label" twice in its header/);
  });

  it('says what is wrong, with the file and the line', async () => {
    await expectRsclipError(readSidecar(sidecar('nokey.csv', 'label,year\nairport,2010\n')), 'BAD_INPUT', /has no file-name column: expected one of filename, file_name, file, name, path, found label, year/);
    await expectRsclipError(readSidecar(sidecar('bad.jsonl', '{"file": "a.jpg"}\n{oops\n')), 'BAD_INPUT', /line 2 is not JSON/);
    await expectRsclipError(readSidecar(path.join(work, 'missing.csv')), 'BAD_INPUT', /cannot read fields file/);
  });
});
