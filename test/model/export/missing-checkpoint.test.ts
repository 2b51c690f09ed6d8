/** exportCheckpointDirectory on a folder that does not exist says so (it said the folder had no config.json). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { exportCheckpointDirectory } from '../../../src/index.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-missing-checkpoint-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('names a missing checkpoint folder as missing', async () => {
  const missing = path.join(work, 'no-such-checkpoint');
  await expect(exportCheckpointDirectory(missing, path.join(work, 'out'))).rejects.toMatchObject({ code: 'NOT_FOUND', message: `no checkpoint folder at ${missing}` });
});
