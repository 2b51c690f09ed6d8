/**
 * Tests run the CLI as users do, from the compiled dist/ (test/fixtures/cli.ts): plain node
 * starts it in about half the CPU time of `node --import tsx src/cli.ts`, and the suite starts it
 * a few hundred times. dist/ is rebuilt first whenever a file under src/ is newer than it, so a
 * test never runs stale code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CLI_ENTRY, REPO_ROOT } from './fixtures/cli.js';

function newestChange(dir: string): number {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestChange(file) : statSync(file).mtimeMs);
  }
  return newest;
}

export default function buildIfStale(): void {
  if (existsSync(CLI_ENTRY) && statSync(CLI_ENTRY).mtimeMs >= newestChange(path.join(REPO_ROOT, 'src'))) return;
  process.stderr.write('test setup: src/ changed since the last build, running `npm run build`\n');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
}
