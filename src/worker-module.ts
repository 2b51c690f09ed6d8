/** Where a worker-thread module lives, from the module that starts it: .ts when running from the sources (tests, tsx), .js when built. */
import { fileURLToPath } from 'node:url';

export function workerModule(name: string, importerUrl: string): { filename: string; execArgv?: string[] } {
  const fromSources = importerUrl.endsWith('.ts');
  const filename = fileURLToPath(new URL(`./${name}.${fromSources ? 'ts' : 'js'}`, importerUrl));
  return fromSources ? { filename, execArgv: ['--import', 'tsx'] } : { filename };
}
