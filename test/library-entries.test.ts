/** The library's main entries that the README names are exported by the package's entry point. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import * as library from '../src/index.js';
import { REPO_ROOT } from './fixtures/cli.js';

it('exports every entry the README\'s Library section names', () => {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const paragraph = /\n(`openClip`[^]*?) are the main entries/.exec(readme)?.[1];
  expect(paragraph).toBeDefined();
  // identifiers (camelCase or PascalCase), not the error's fields `code` and `hint`
  const names = [...paragraph!.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!).filter((name) => /[A-Z]/.test(name));
  expect(names.length).toBeGreaterThan(10);
  expect(names.filter((name) => !(name in library))).toEqual([]);
});
