/**
 * Child process of queue-processes.test.ts: an embedding worker with the model-free encoder,
 * slowed by DELAY_MS per batch so a test can kill it mid-job; every job event is appended to TRACE
 * as a JSON line (with this pid) before the job's result goes back.
 *   worker.child.ts URL TRACE DELAY_MS
 */
import { appendFileSync } from 'node:fs';
import { startEmbedWorker } from '../../src/queue/index.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';

const [url, trace, delayMs] = process.argv.slice(2);

class SlowEncoder extends FakeEncoder {
  override async embedPixels(images: Float32Array[]): Promise<Float32Array[]> {
    await new Promise((resolve) => setTimeout(resolve, Number(delayMs)));
    return super.embedPixels(images);
  }
}

const worker = await startEmbedWorker({
  url: url!,
  encoder: new SlowEncoder(),
  // short, so the killed worker's job moves on soon; long enough that a live worker under load keeps its lock
  lockSeconds: 4,
  onJob: (event) => appendFileSync(trace!, `${JSON.stringify({ pid: process.pid, ...event })}\n`),
});
process.once('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
process.stdout.write('ready\n');
