/**
 * indexArchive's options from a caller TypeScript does not check: each mistake is BAD_INPUT before
 * anything is read or written, never a TypeError from deep inside; decodeThreads is bounded (a
 * million of them exhausted the heap starting their workers, and the process hung).
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { indexArchive } from '../../src/indexer/index-archive.js';
import { maxDecodeThreads } from '../../src/indexer/indexing-threads.js';
import type { IndexArchiveOptions } from '../../src/indexer/types.js';
import type { ClipEncoder } from '../../src/model/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';

/** Stand-ins that fail loudly if used: every refusal here comes before the store or the encoder is touched. */
const untouchable = <T extends object>(name: string) =>
  new Proxy({}, { get: (_target, key) => { throw new Error(`${name}.${String(key)} was read`); } }) as T;
const base = (): IndexArchiveOptions => ({ roots: ['/nonexistent/archive'], store: untouchable<IndexStore>('store'), encoder: untouchable<ClipEncoder>('encoder') });

describe('indexArchive', () => {
  it('refuses more decode threads than twice the cores (at least 8)', async () => {
    expect(maxDecodeThreads(2)).toBe(8);
    expect(maxDecodeThreads(16)).toBe(32);
    const most = maxDecodeThreads();
    for (const decodeThreads of [1e6, most + 1, -1, 1.5, NaN]) {
      await expect(indexArchive({ ...base(), decodeThreads }), String(decodeThreads)).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: `Expected an integer from 0 to ${most} (twice this machine's ${availableParallelism()} cores, at least 8) for decodeThreads but received ${String(decodeThreads)} of type number`,
      });
    }
  });

  it('refuses a missing store or encoder, and a lone string where a list goes', async () => {
    const { store: _store, ...noStore } = base();
    await expect(indexArchive(noStore as IndexArchiveOptions)).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'indexArchive needs options.store, an index open for writing; got undefined' });
    const { encoder: _encoder, ...noEncoder } = base();
    await expect(indexArchive(noEncoder as IndexArchiveOptions)).rejects.toMatchObject({ code: 'BAD_INPUT', message: "indexArchive needs options.encoder, an encoder of the index's model; got undefined" });
    await expect(indexArchive(undefined as unknown as IndexArchiveOptions)).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'Expected an object for options but received undefined of type undefined' });
    await expect(indexArchive({ ...base(), include: '*.jpg' as unknown as string[] })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: 'Expected an array of glob patterns for include but received "*.jpg" of type string',
      hint: 'give one as an array of one: include: ["*.jpg"]',
    });
    await expect(indexArchive({ ...base(), exclude: [3] as unknown as string[] })).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'Expected an array of glob patterns for exclude but received 3 of type object' });
    await expect(indexArchive({ ...base(), roots: '/archive' as unknown as string[] })).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'Expected an array of folder paths for roots but received "/archive" of type string' });
    await expect(indexArchive({ ...base(), forget: '/archive/old' as unknown as string[] })).rejects.toMatchObject({ code: 'BAD_INPUT', message: /^Expected an array of folder paths for forget/ });
  });
});

describe('rsclip index --decode-threads', () => {
  it('refuses more threads than indexArchive allows, before anything opens', async () => {
    const { code, stderr } = await runCli(['index', '/nonexistent/archive', '--index', '/nonexistent/index', '--decode-threads', '1000000']);
    expect(code).not.toBe(0);
    expect(stderr).toContain(`expected at most ${maxDecodeThreads()} decode threads (twice this machine's cores, at least 8), got "1000000"`);
  });
});
