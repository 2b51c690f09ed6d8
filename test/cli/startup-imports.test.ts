/**
 * What a text query loads before it answers: the modules that `rsclip serve` and `rsclip search`
 * import eagerly (static imports of the compiled dist/, which Node loads before running any of
 * them) reach none of the packages kept for images, scenes, model export, GeoParquet, the queue or
 * PostgreSQL. Each costs 50-200 ms at start-up; they load when first used (src/lazy-package.ts,
 * or a dynamic import). Internal modules import the module that defines a name, not a folder's
 * index, which would pull in the whole folder.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/cli.js';

const DIST = path.join(REPO_ROOT, 'dist');

const LOADED_ON_FIRST_USE = ['sharp', 'onnxruntime-node', 'proj4', 'geotiff', 'geotiff-geokeys-to-proj4', 'protobufjs', 'hyparquet', 'hyparquet-writer', 'bullmq', 'pg', '@electric-sql/pglite', 'usearch'];

/** The package a bare specifier names (`@scope/name/sub` -> `@scope/name`). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Packages reached through static imports and re-exports from these dist/ modules. */
function eagerPackages(entries: readonly string[]): { packages: Set<string>; modules: number } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((e) => path.join(DIST, e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    for (const statement of source.statements) {
      if (!(ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement))) continue;
      const specifier = statement.moduleSpecifier;
      if (!specifier || !ts.isStringLiteral(specifier)) continue;
      if (specifier.text.startsWith('.')) queue.push(path.resolve(path.dirname(file), specifier.text));
      else if (!specifier.text.startsWith('node:')) packages.add(packageOf(specifier.text));
    }
  }
  return { packages, modules: seen.size };
}

describe('start-up imports', () => {
  it('serve answers a text query without loading the packages of images, scenes, export, the queue or PostgreSQL', () => {
    const { packages, modules } = eagerPackages(['cli.js', 'cli/serve.js', 'server/start-server.js']);
    expect(modules).toBeGreaterThan(50);
    expect([...packages]).toEqual(expect.arrayContaining(['express', 'better-sqlite3', 'commander']));
    expect(LOADED_ON_FIRST_USE.filter((p) => packages.has(p))).toEqual([]);
  });

  it('search does the same, and loads no HTTP server', () => {
    const { packages } = eagerPackages(['cli.js', 'cli/search.js']);
    expect(packages.has('better-sqlite3')).toBe(true);
    expect([...LOADED_ON_FIRST_USE, 'express', 'multer'].filter((p) => packages.has(p))).toEqual([]);
  });
});
