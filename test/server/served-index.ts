/**
 * A small archive indexed with the tiny test model, and startServer on it (loopback, free port,
 * silent log unless one is given): what the server tests that need a real model share.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server/index.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';

export interface ServedIndex {
  root: string;
  archive: string;
  index: string;
  modelDir: string;
  start(options?: Partial<StartServerOptions>): Promise<RunningServer>;
  remove(): void;
}

export async function buildServedIndex(name: string, images = 6): Promise<ServedIndex> {
  const root = mkdtempSync(path.join(tmpdir(), `rsclip-${name}-`));
  const archive = path.join(root, 'archive');
  mkdirSync(archive);
  for (let i = 0; i < images; i++) writeFileSync(path.join(archive, `tile-${i}.png`), makePng(300 + i, 40, 40));
  const modelDir = await tinyModelDir();
  const index = path.join(root, 'index');
  await indexInto({ roots: [archive], index, model: modelDir, threads: 1 });
  return {
    root,
    archive,
    index,
    modelDir,
    start: (options = {}) => startServer({ index, model: modelDir, port: 0, threads: 1, handleSignals: false, logger: pino({ level: 'silent' }), ...options }),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
