/**
 * Child process of write-only.test.ts: opens INDEX write-only, commits COUNT puts of the test's
 * vectors in batches of 20, prints `committed`, and kills itself with SIGKILL before anything
 * closes: the graph thread's work since its last checkpoint dies with it.
 *   write-only.child.ts INDEX COUNT
 */
import { openIndex } from '../../src/store/index.js';
import { model, put } from './write-only-fixtures.js';

const [index, count] = process.argv.slice(2);
const store = await openIndex(index!, { model, create: true, writeOnly: true });
for (let i = 0; i < Number(count); i += 20) await store.commit(Array.from({ length: 20 }, (_, j) => put(i + j)));
process.stdout.write('committed\n');
process.kill(process.pid, 'SIGKILL');
