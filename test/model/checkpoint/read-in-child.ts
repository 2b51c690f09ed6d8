/**
 * Reads one checkpoint file and prints, as one JSON line, whether it loaded or was refused and
 * the process's peak resident memory. hostile-files.test.ts runs it in a child process with a
 * small V8 heap, so that a reader that loops or over-allocates fails the test instead of
 * taking the test runner down with it.
 */
import { readSafetensors, readTorchCheckpoint } from '../../../src/model/checkpoint/index.js';

const file = process.argv[2]!;
const report = (outcome: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...outcome, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
};
try {
  const tensors = file.endsWith('.safetensors') ? await readSafetensors(file) : await readTorchCheckpoint(file);
  report({ outcome: 'loaded', tensors: tensors.size });
} catch (error) {
  report({ outcome: 'refused', code: (error as { code?: string }).code, message: (error as Error).message });
}
