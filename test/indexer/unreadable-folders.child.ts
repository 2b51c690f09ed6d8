/**
 * Child process of unreadable-folders.test.ts, run as an unprivileged user (root reads every
 * folder): indexes ARCHIVE into INDEX with a model-free encoder and prints one JSON line, the
 * run's summary and the paths the index holds then.
 */
import { openIndex } from '../../src/store/index.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from './fake-encoder.js';

const [archive, index] = process.argv.slice(2) as [string, string];
const summary = await indexInto({ roots: [archive], index, model: new FakeEncoder() });
const store = await openIndex(index, { readonly: true });
try {
  const paths = (await store.listFiles('ok')).map((f) => f.path).sort();
  console.log(JSON.stringify({ summary, paths }));
} finally {
  await store.close();
}
