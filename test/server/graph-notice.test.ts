/**
 * A reader that finds no usable graph file builds the graph in memory, and cannot save it: every
 * start pays for it until a writer does. `rsclip serve` says so once, with what to run, and no
 * longer once a writer (here: an open and close, as `rsclip doctor` does) has saved the file.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openIndex } from '../../src/store/index.js';
import { buildServedIndex, type ServedIndex } from './served-index.js';

let fixture: ServedIndex;
beforeAll(async () => {
  fixture = await buildServedIndex('graph-notice');
}, 120_000);
afterAll(() => fixture?.remove());

/** The warnings `rsclip serve` logs while it starts. */
async function startupWarnings(): Promise<string[]> {
  let log = '';
  const output = new PassThrough().on('data', (chunk: Buffer) => (log += chunk.toString()));
  const running = await fixture.start({ logger: pino({ level: 'warn' }, output) });
  await running.close();
  return log
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

it('says at start that the graph was built in memory and what saves it, until a writer has', async () => {
  expect(await startupWarnings()).toEqual([]);

  rmSync(path.join(fixture.index, 'vectors.hnsw'));
  const reader = await openIndex(fixture.index, { readonly: true });
  expect(reader.describe().notices).toEqual([expect.stringMatching(/^there is no HNSW file: this reader built the graph of 6 vectors in memory, .*`rsclip doctor --index /)]);
  expect(await reader.countItems()).toBe(6);
  await reader.close();
  expect(await startupWarnings()).toEqual([expect.stringMatching(/built the graph of 6 vectors in memory/)]);

  await (await openIndex(fixture.index, {})).close();
  expect(await startupWarnings()).toEqual([]);
}, 120_000);
