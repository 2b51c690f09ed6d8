/**
 * An index on read-only media (a tmpfs the test mounts and remounts read-only; root ignores
 * file permissions, so only a read-only mount is a real test): searching and serving work,
 * writing (index, doctor) fails with one line that says the media is read-only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { mountSmallFs, smallFsUnavailable, type SmallFs } from '../fixtures/small-fs.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

const unavailable = smallFsUnavailable();
if (unavailable) console.warn(`[rsclip tests] skipping the read-only media tests: ${unavailable}`);

let fs: SmallFs | undefined;
let fixture: TestIndex;
let tinyArchive: string;
let tinyIndex: string;

beforeAll(async () => {
  if (unavailable) return;
  const mounted = mountSmallFs(16 * 1024 * 1024);
  if (typeof mounted === 'string') throw new Error(mounted);
  fs = mounted;
  fixture = await buildTestIndex(fs.dir);
  // an index of the tiny model too, for `rsclip index` (which loads the index's model first)
  tinyArchive = path.join(fs.dir, 'tiny-archive');
  mkdirSync(tinyArchive);
  for (let i = 0; i < 3; i++) writeFileSync(path.join(tinyArchive, `t${i}.png`), makePng(i + 1, 40, 40));
  tinyIndex = path.join(fs.dir, 'tiny-index');
  await indexInto({ roots: [tinyArchive], index: tinyIndex, model: await tinyModelDir(), threads: 1 });
  fs.remount('ro');
});

afterAll(() => fs?.dispose());

describe.skipIf(unavailable !== undefined)('an index on read-only media', () => {
  it('is searched like any other', async () => {
    const store = await fixture.open();
    try {
      const page = await new Searcher(fixture.encoder, store).search({ terms: [{ kind: 'text', text: 'stadium', weight: 1 }], k: 2, filter: { fields: { label: 'stadium' } } });
      expect(page.hits.map((h) => h.path)).toEqual(['city/stadium-a.png', 'city/stadium-b.png']);
      expect(await store.countItems()).toBe(14);
    } finally {
      await store.close();
    }
  });

  it('is served like any other', async () => {
    const store = await fixture.open();
    try {
      const app = createApp({ searcher: new Searcher(fixture.encoder, store), store });
      const res = await request(app).get('/api/search').query({ q: 'river', k: 3 });
      expect(res.status).toBe(200);
      expect(res.body.hits).toHaveLength(3);
      expect((await request(app).get(`/api/images/${fixture.ids.get('green/park.png')}/similar`).query({ k: 2 })).status).toBe(200);
    } finally {
      await store.close();
    }
  });

  it('refuses writing with one line that says the media is read-only', async () => {
    const error = await openIndex(fixture.indexDir, { model: fixture.encoder.info }).then(
      () => undefined,
      (e: unknown) => e as RsclipError,
    );
    expect(error).toBeInstanceOf(RsclipError);
    expect(error).toMatchObject({ code: 'INDEX_UNWRITABLE', hint: expect.stringContaining('read-only disk') });
    for (const command of [
      ['doctor', '--index', fixture.indexDir],
      ['doctor', '--repair', '--index', fixture.indexDir],
      ['index', tinyArchive, '--index', tinyIndex, '--threads', '1'],
    ]) {
      const result = await runCli(command);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/^rsclip: cannot lock index .* for writing: .*\(the index folder cannot be written \(a read-only disk or no permission\)[^\n]*\)\n$/);
    }
  });
});
