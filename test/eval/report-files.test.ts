/**
 * `--out` report files replace the earlier ones as a set or not at all: a write that fails (a
 * full disk, simulated by a writeFile that writes part of its data and then fails with ENOSPC,
 * and a real full tmpfs where the test may mount one) leaves the earlier report exactly as it
 * was, no cut-off file and no temporary beside it; files of the earlier set that the new one
 * lacks go; a symbolic link keeps leading to the report; a killed run's temporary is removed by
 * the next run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { evaluateZeroShot, writeZeroShotReport, type ZeroShotEvaluation } from '../../src/eval/index.js';
import { REPORT_FILES, writeReportFiles } from '../../src/eval/report.js';
import { tinyModelDir } from '../fixtures/model.js';
import { mountSmallFs, smallFsUnavailable, type SmallFs } from '../fixtures/small-fs.js';
import { writeLabelledFolders } from './labelled-folders.js';

/** When set, a writeFile to a path it accepts writes the first `bytes` of its data there and fails with ENOSPC, as a full disk does. */
const injected: { fails?: (file: string) => boolean; bytes: number } = { bytes: 0 };

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>();
  const writeFile: typeof actual.writeFile = async (file, data, options) => {
    if (typeof file === 'string' && injected.fails?.(file)) {
      const text = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data as Uint8Array);
      await actual.writeFile(file, text.subarray(0, injected.bytes));
      throw Object.assign(new Error(`ENOSPC: no space left on device, open '${file}'`), { code: 'ENOSPC', errno: -28, syscall: 'open', path: file });
    }
    return actual.writeFile(file, data, options);
  };
  return { ...actual, writeFile, default: { ...actual, writeFile } };
});

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-report-files-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => {
  injected.fails = undefined;
});

const ALL = Object.values(REPORT_FILES);

/** Every file in `dir` (hidden ones included) with its content. */
function contents(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => [name, readFileSync(path.join(dir, name), 'utf8')]),
  );
}

/** The same evaluation as another run would report it (another date, so every file differs). */
const rerun = (evaluation: ZeroShotEvaluation, date: string): ZeroShotEvaluation => ({ ...evaluation, report: { ...evaluation.report, date } });

describe('eval --out report files', () => {
  let evaluation: ZeroShotEvaluation;
  beforeAll(async () => {
    const images = writeLabelledFolders(path.join(work, 'images'));
    evaluation = await evaluateZeroShot({ model: await tinyModelDir(), images, labelsFromFolders: true, threads: 1 });
  }, 300_000);

  it.each(ALL)('keeps the earlier report whole when writing %s fails part-way (full disk): no cut-off file, no mix of runs, no temporary', async (failing) => {
    const out = path.join(work, `fail-${failing}`);
    await writeZeroShotReport(out, rerun(evaluation, 'first run'));
    const before = contents(out);
    expect(Object.keys(before)).toEqual([...ALL].sort());
    injected.bytes = 100;
    injected.fails = (file) => path.basename(file).includes(failing);
    const failure = (await writeZeroShotReport(out, rerun(evaluation, 'second run')).catch((error: unknown) => error)) as NodeJS.ErrnoException;
    expect(failure.code).toBe('ENOSPC');
    expect(contents(out)).toEqual(before);
    injected.fails = undefined;
    await writeZeroShotReport(out, rerun(evaluation, 'third run'));
    expect(Object.keys(contents(out))).toEqual([...ALL].sort());
    expect(JSON.parse(readFileSync(path.join(out, REPORT_FILES.json), 'utf8'))).toMatchObject({ date: 'third run' });
  });

  it('leaves no file at all when the first report into a folder cannot be written', async () => {
    const out = path.join(work, 'first-fails');
    injected.bytes = 0;
    injected.fails = (file) => path.basename(file).includes(REPORT_FILES.html);
    await expect(writeZeroShotReport(out, evaluation)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(readdirSync(out)).toEqual([]);
  });

  it('names the report file, not its temporary, in an error', async () => {
    const out = path.join(work, 'error-names');
    injected.fails = (file) => path.basename(file).includes(REPORT_FILES.markdown);
    const failure = (await writeZeroShotReport(out, evaluation).catch((error: unknown) => error)) as NodeJS.ErrnoException;
    expect(failure).toMatchObject({ code: 'ENOSPC', path: path.join(out, REPORT_FILES.markdown) });
    expect(failure.message).toContain(path.join(out, REPORT_FILES.markdown));
    expect(failure.message).not.toMatch(/partial/);
  });

  it('refuses a folder in the way of a report file before replacing any file of the set', async () => {
    const out = path.join(work, 'folder-in-the-way');
    await writeZeroShotReport(out, evaluation);
    rmSync(path.join(out, REPORT_FILES.markdown));
    mkdirSync(path.join(out, REPORT_FILES.markdown, 'in-the-way'), { recursive: true });
    const before = readFileSync(path.join(out, REPORT_FILES.json), 'utf8');
    await expect(writeZeroShotReport(out, rerun(evaluation, 'second run'))).rejects.toMatchObject({ code: 'EISDIR', path: path.join(out, REPORT_FILES.markdown) });
    expect(readFileSync(path.join(out, REPORT_FILES.json), 'utf8')).toBe(before);
    expect(readdirSync(out).sort()).toEqual([...ALL].sort());
  });

  it('replaces the set: a file of the earlier report that the new one lacks is removed once the new one is in place', async () => {
    const out = path.join(work, 'set');
    await writeZeroShotReport(out, evaluation);
    writeFileSync(path.join(out, 'notes.txt'), 'mine');
    await writeReportFiles(out, { [REPORT_FILES.json]: '{}\n', [REPORT_FILES.markdown]: '#\n', [REPORT_FILES.html]: '<p>\n' }, { replaces: ALL });
    expect(readdirSync(out).sort()).toEqual(['notes.txt', REPORT_FILES.html, REPORT_FILES.json, REPORT_FILES.markdown]);
    // and on failure nothing is removed
    await writeZeroShotReport(out, evaluation);
    injected.fails = (file) => path.basename(file).includes(REPORT_FILES.html);
    await expect(writeReportFiles(out, { [REPORT_FILES.json]: '{}\n', [REPORT_FILES.html]: '<p>\n' }, { replaces: ALL })).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(readdirSync(out).sort()).toEqual(['notes.txt', ...ALL].sort());
  });

  it('keeps a symbolic link leading to the report it names, and removes the temporary a killed run left', async () => {
    const out = path.join(work, 'links');
    const elsewhere = path.join(work, 'kept-elsewhere');
    mkdirSync(out, { recursive: true });
    mkdirSync(elsewhere, { recursive: true });
    writeFileSync(path.join(elsewhere, 'report.md'), 'old');
    symlinkSync(path.join(elsewhere, 'report.md'), path.join(out, REPORT_FILES.markdown));
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = `.${REPORT_FILES.json}.${dead}.0badf00d.partial`;
    const live = `.${REPORT_FILES.json}.${process.pid}.0badf00d.partial`;
    writeFileSync(path.join(out, stale), '{"cut');
    writeFileSync(path.join(out, live), '{"cut');
    await writeZeroShotReport(out, evaluation);
    expect(readlinkSync(path.join(out, REPORT_FILES.markdown))).toBe(path.join(elsewhere, 'report.md'));
    expect(readFileSync(path.join(elsewhere, 'report.md'), 'utf8')).toMatch(/^# Zero-shot classification/);
    expect(readdirSync(out).sort()).toEqual([live, ...ALL].sort());
  });

  const unavailable = smallFsUnavailable();
  if (unavailable) console.warn(`[rsclip tests] skipping the full-tmpfs report test: ${unavailable}`);

  describe.skipIf(unavailable !== undefined)('on a real full disk (a small tmpfs)', () => {
    let fs: SmallFs | undefined;
    afterEach(() => {
      fs?.dispose();
      fs = undefined;
    });

    it('fails with ENOSPC and keeps the earlier report byte for byte; a first report leaves nothing; with room again it is written', async () => {
      const mounted = mountSmallFs(3 * 1024 * 1024);
      if (typeof mounted === 'string') throw new Error(mounted);
      fs = mounted;
      const out = path.join(fs.dir, 'zs');
      const first = path.join(fs.dir, 'first');
      mkdirSync(first);
      await writeZeroShotReport(out, rerun(evaluation, 'first run'));
      const before = contents(out);
      const filler = path.join(fs.dir, 'filler');
      expect(() => writeFileSync(filler, Buffer.alloc(4 * 1024 * 1024))).toThrow(/ENOSPC/);
      await expect(writeZeroShotReport(out, rerun(evaluation, 'second run'))).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(contents(out)).toEqual(before);
      await expect(writeZeroShotReport(first, evaluation)).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(readdirSync(first)).toEqual([]);
      rmSync(filler);
      await writeZeroShotReport(out, rerun(evaluation, 'third run'));
      expect(JSON.parse(readFileSync(path.join(out, REPORT_FILES.json), 'utf8'))).toMatchObject({ date: 'third run' });
      expect(Object.keys(contents(out))).toEqual([...ALL].sort());
    });
  });
});
