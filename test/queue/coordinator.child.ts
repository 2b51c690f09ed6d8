/**
 * Child process of queue-processes.test.ts: `rsclip index --queue` with the model-free encoder
 * (its fingerprint is the workers'), batches of BATCH windows; prints `RUN <id>` on stderr once
 * its queue is open, then the summary as one JSON line. RSCLIP_DEBUG_PAUSE_AT pauses it for a kill.
 *   coordinator.child.ts URL ARCHIVE INDEX BATCH
 */
import { QueueEmbedder } from '../../src/queue/index.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';

const [url, archive, index, batch] = process.argv.slice(2);
const encoder = new FakeEncoder();
const embedder = await QueueEmbedder.open({ url: url!, info: encoder.info, inFlight: 4, index: index! });
process.stderr.write(`RUN ${embedder.run}\n`);
try {
  const summary = await indexInto({ roots: [archive!], index: index!, model: encoder, embedder, batchSize: Number(batch) });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} finally {
  await embedder.close();
}
