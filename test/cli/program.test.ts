/** The program loads only the command a run names, none for the version; help and unknown names get every command. */
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';

const ALL = ['model', 'embed', 'index', 'doctor', 'errors', 'eval', 'search', 'serve', 'up', 'bench', 'export', 'worker', 'locate'];

async function commandsFor(...args: string[]): Promise<string[]> {
  return (await buildProgram(['node', 'rsclip', ...args])).commands.map((c) => c.name());
}

describe('buildProgram', () => {
  it('registers only the command a run names, past global options and the value of --config', async () => {
    expect(await commandsFor('search', 'a river')).toEqual(['search']);
    expect(await commandsFor('--config', 'search', 'serve', '--port', '0')).toEqual(['serve']);
    expect(await commandsFor('--config=x.json', 'locate', 'a.tif', 'a stadium')).toEqual(['locate']);
    expect(await commandsFor('model', 'info')).toEqual(['model']);
    expect((await buildProgram(['node', 'rsclip', 'model', 'fetch'])).commands[0]!.commands.map((c) => c.name())).toEqual(expect.arrayContaining(['info', 'tokenize', 'export', 'fetch']));
  });

  it('registers no command for the version, with or without help', async () => {
    expect(await commandsFor('--version')).toEqual([]);
    expect(await commandsFor('-V', '--help')).toEqual([]);
  });

  it('registers the index file whole for any of its commands (index, doctor, errors)', async () => {
    for (const name of ['index', 'doctor', 'errors']) expect(await commandsFor(name)).toEqual(['index', 'doctor', 'errors']);
  });

  it('registers every command, in the order of its help, for help, no command or a mistyped name', async () => {
    expect(await commandsFor()).toEqual(ALL);
    expect(await commandsFor('--help')).toEqual(ALL);
    expect(await commandsFor('serch', 'a river')).toEqual(ALL);
    expect(await commandsFor('help', 'search')).toEqual(ALL);
  });
});
