import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { RsclipError } from '../src/errors.js';

describe('loadConfig', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rsclip-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is empty without a file or variables', () => {
    expect(loadConfig({ cwd: dir, env: {} })).toEqual({ config: {}, file: undefined });
  });

  it('reads rsclip.config.json from the working directory, resolving paths against the file', () => {
    const sub = path.join(dir, 'project');
    writeFileSync(path.join(dir, 'rsclip.config.json'), JSON.stringify({ index: 'idx', port: 9000, include: ['**/*.jpg'] }));
    const { config, file } = loadConfig({ cwd: dir, env: {} });
    expect(file).toBe(path.join(dir, 'rsclip.config.json'));
    expect(config).toEqual({ index: path.join(dir, 'idx'), port: 9000, include: ['**/*.jpg'] });
    expect(loadConfig({ cwd: sub, env: { RSCLIP_CONFIG: path.join(dir, 'rsclip.config.json') } }).config.index).toBe(path.join(dir, 'idx'));
  });

  it('resolves a model that is a folder beside the file against the file, and keeps a Hub repository id as it is', () => {
    const project = path.join(dir, 'with-model');
    mkdirSync(path.join(project, 'models', 'tiny'), { recursive: true });
    writeFileSync(path.join(project, 'a.json'), JSON.stringify({ model: 'models/tiny' }));
    writeFileSync(path.join(project, 'b.json'), JSON.stringify({ model: 'flax-community/clip-rsicd-v2' }));
    expect(loadConfig({ cwd: dir, env: { RSCLIP_CONFIG: path.join(project, 'a.json') } }).config.model).toBe(path.join(project, 'models', 'tiny'));
    expect(loadConfig({ cwd: dir, env: { RSCLIP_CONFIG: path.join(project, 'b.json') } }).config.model).toBe('flax-community/clip-rsicd-v2');
    // a path that starts with ./ or ../ is a folder even where there is none, said by where it was looked for
    writeFileSync(path.join(project, 'c.json'), JSON.stringify({ model: '../missing-model' }));
    expect(loadConfig({ cwd: dir, env: { RSCLIP_CONFIG: path.join(project, 'c.json') } }).config.model).toBe(path.join(dir, 'missing-model'));
  });

  it('lets environment variables override the file, numbers validated', () => {
    const { config } = loadConfig({ cwd: dir, env: { RSCLIP_PORT: '8081', RSCLIP_MODEL: '/models/x', RSCLIP_THREADS: '2' } });
    expect(config.port).toBe(8081);
    expect(config.model).toBe('/models/x');
    expect(config.threads).toBe(2);
    expect(() => loadConfig({ cwd: dir, env: { RSCLIP_PORT: 'eighty' } })).toThrow(/environment: RSCLIP_PORT="eighty": /);
  });

  it('refuses unknown keys, wrong types, bad JSON and a missing explicit file with CONFIG_INVALID', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ prot: 80 }));
    expect(() => loadConfig({ file: bad, cwd: dir, env: {} })).toThrow(/Unrecognized key/);
    writeFileSync(bad, JSON.stringify({ threads: 0 }));
    expect(() => loadConfig({ file: bad, cwd: dir, env: {} })).toThrow(/threads/);
    writeFileSync(bad, '{ "port": ');
    expect(() => loadConfig({ file: bad, cwd: dir, env: {} })).toThrow(/not valid JSON/);
    try {
      loadConfig({ file: path.join(dir, 'missing.json'), cwd: dir, env: {} });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RsclipError);
      expect((error as RsclipError).code).toBe('CONFIG_INVALID');
    }
  });
});
