/**
 * A k or ef that is not a whole number in range is refused with BAD_QUERY at every entry (the
 * searcher, a store, each graph engine) before any native call: a NaN ef used to reach usearch's
 * addon and abort the whole process (exit 134), so the cases run in a child process
 * (search-args.child.ts) and the test checks that it lived to the end.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/cli.js';

it('refuses a NaN, string, fractional or out-of-range k or ef at every entry, and the process lives on', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'search-args.child.ts')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
  expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
  const lines = stdout.trim().split('\n');
  expect(lines.at(-1)).toBe('survived');
  const results = lines.slice(0, -1).map((line) => JSON.parse(line) as { name: string; result: string; message?: string });
  const byName = new Map(results.map((r) => [r.name, r]));
  expect(byName.get('whole k and ef')?.result).toBe('2,2,2,2');
  const refused = results.filter((r) => r.name !== 'whole k and ef');
  expect(refused).toHaveLength(15);
  for (const r of refused) expect(r, r.name).toMatchObject({ result: 'BAD_QUERY', message: expect.stringMatching(/^(k|ef) must be /) });
  // the library's bounds are the HTTP API's (MAX_EF), named in the message
  expect(byName.get('searcher ef NaN')?.message).toBe('ef must be an integer from 1 to 4096, got NaN');
  expect(byName.get('searcher ef "x"')?.message).toBe('ef must be an integer from 1 to 4096, got "x"');
  expect(byName.get('searcher ef 0')?.message).toBe('ef must be an integer from 1 to 4096, got 0');
  expect(byName.get('store k NaN')?.message).toBe('k must be a whole number of results (0 or more), got NaN');
}, 60_000);
