/**
 * A preparer that fails (the store gone while it looks up a file's content) ends the run with that
 * error, thrown by indexArchive, also when it comes while a commit is awaited: it was an unhandled
 * rejection then, which ended the process with a stack trace instead of the one-line message.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { indexArchive } from '../../src/indexer/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { makePng } from '../fixtures/images.js';
import { FakeEncoder } from './fake-encoder.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-preparer-failure-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('ends the run with the error of a preparer that fails while a commit is awaited', async () => {
  const archive = path.join(work, 'archive');
  mkdirSync(archive);
  for (let i = 0; i < 48; i++) writeFileSync(path.join(archive, `${i}.png`), makePng(i + 1, 24, 24));
  const encoder = new FakeEncoder();
  const store = await openIndex(path.join(work, 'index'), { model: encoder.info, create: true });
  let lookups = 0;
  let commitsStarted = 0;
  const failing = new Proxy(store, {
    get(target, property) {
      if (property === 'findReusableFile') {
        return async (...args: Parameters<IndexStore['findReusableFile']>) => {
          // the first commit is under way: the lookup fails while the run awaits it
          if (commitsStarted > 0) throw new RsclipError('INDEX_UNAVAILABLE', 'the database went away');
          lookups++;
          return target.findReusableFile(...args);
        };
      }
      if (property === 'commit') {
        return async (...args: Parameters<IndexStore['commit']>) => {
          commitsStarted++;
          await new Promise((resolve) => setTimeout(resolve, 300));
          return target.commit(...args);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  try {
    await expect(indexArchive({ roots: [archive], store: failing, encoder, batchSize: 8 })).rejects.toMatchObject({ code: 'INDEX_UNAVAILABLE', message: 'the database went away' });
    expect(lookups).toBeGreaterThan(0);
    expect(commitsStarted).toBeGreaterThan(0);
  } finally {
    await store.close();
  }
});
