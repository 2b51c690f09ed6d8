/**
 * `rsclip doctor` (check an index and repair what can be repaired; `--repair` also rebuilds a
 * damaged catalog) and `rsclip errors` (the files that failed to index, and why).
 *
 * `errors` is a command of its own rather than `doctor --errors`: it only reads (it works while
 * an indexer runs and on read-only media, where doctor, which writes, cannot), and its output is
 * a list to pipe or grep, where doctor's is a report.
 */
import type { Command } from 'commander';
import { DEFAULT_INDEX_DIR, loadConfig } from '../config.js';
import type { ModelInfo } from '../model/encoder-types.js';
import type { ModelVariant } from '../model/model-dir.js';
import { openClip } from '../model/encoder.js';
import { openIndex } from '../store/open-index.js';
import type { FileRecord, VerifyReport } from '../store/types.js';
import { givenModel, modelVariant, printJson } from './options.js';
import { oneField } from '../one-field.js';

export function printVerify(report: VerifyReport, failedFiles?: number): void {
  const { checked } = report;
  process.stdout.write(`checked ${checked.images} images, ${checked.vectors} vectors, ${checked.hnswLabels} in the vector index: ${report.ok ? 'ok' : 'PROBLEMS LEFT'}\n`);
  for (const line of report.repaired) process.stdout.write(`  repaired: ${line}\n`);
  for (const line of report.unrepaired) process.stdout.write(`  not repaired: ${line}\n`);
  if (failedFiles) process.stdout.write(`  ${failedFiles} files could not be indexed: \`rsclip errors\` lists them and why\n`);
}

/**
 * Opens the index for writing (checking its catalog fully, or repairing it) and verifies it.
 * `model`: the index's model (it must be), recorded again when a repair finds its record lost.
 */
export async function verifyIndex(dir: string, repair = false, model?: ModelInfo): Promise<VerifyReport & { failedFiles: number }> {
  const store = await openIndex(dir, { catalogCheck: repair ? 'repair' : 'full', ...(model ? { model, recordLostModel: repair } : {}) });
  try {
    const report = await store.verify();
    return { ...report, failedFiles: report.ok ? await store.countFiles('error') : 0 };
  } finally {
    await store.close();
  }
}

/** What `--model` names (id, fingerprint, vector length), without running it. */
async function modelInfoOf(dir: string, variant: ModelVariant): Promise<ModelInfo> {
  const encoder = await openClip(dir, { variant });
  await encoder.close();
  return encoder.info;
}

interface FailedFile {
  id: number;
  path: string;
  absolutePath: string;
  error: string;
  bytes: number;
  modified: string;
}

function describeFailure(file: FileRecord): FailedFile {
  return { id: file.id, path: file.path, absolutePath: file.absolutePath, error: file.error ?? '', bytes: file.bytes, modified: new Date(file.mtimeMs).toISOString() };
}

export function registerDoctorCommands(program: Command): void {
  program
    .command('doctor')
    .description('check that an index catalog, its vectors and its HNSW file agree; repair what can be repaired')
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('--repair', 'also repair a damaged catalog: rebuild its indexes, or copy every readable row into a new one')
    .option('-m, --model <dir>', "the index's model; with --repair, recorded again for vectors whose catalog lost the record of it (it must be the model that made them)")
    .option('--variant <variant>', 'ONNX variant of --model: fp32, int8 or fp16 (default: fp32)', modelVariant)
    .option('--json', 'print the report as JSON')
    .action(async (opts: { index?: string; json?: boolean; repair?: boolean; model?: string; variant?: ModelVariant }) => {
      const index = opts.index ?? loadConfig().config.index ?? DEFAULT_INDEX_DIR;
      const model = opts.model === undefined ? undefined : await modelInfoOf(givenModel(opts.model)!, opts.variant ?? 'fp32');
      const report = await verifyIndex(index, opts.repair === true, model);
      if (opts.json) printJson(report);
      else printVerify(report, report.failedFiles);
      if (!report.ok) process.exitCode = 1;
    });

  program
    .command('errors')
    .description('list the files that could not be indexed, with the reason (read-only: works while indexing)')
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('--json', 'print them as JSON')
    .action(async (opts: { index?: string; json?: boolean }) => {
      const index = opts.index ?? loadConfig().config.index ?? DEFAULT_INDEX_DIR;
      const store = await openIndex(index, { readonly: true, deferGraph: true });
      let failed: FailedFile[];
      try {
        failed = (await store.listFiles('error')).map(describeFailure);
      } finally {
        await store.close();
      }
      if (opts.json) {
        printJson(failed);
        return;
      }
      for (const f of failed) process.stdout.write(`${oneField(f.absolutePath)}\t${oneField(f.error)}\n`);
      process.stderr.write(
        failed.length === 0 ? 'no file failed\n' : `${failed.length} file${failed.length === 1 ? '' : 's'} failed; \`rsclip index --retry-errors\` tries them again (also done when --max-input-pixels changes)\n`,
      );
    });
}
