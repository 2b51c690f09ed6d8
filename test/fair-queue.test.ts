/** FairQueue: a fixed number of tasks at once, owners taking turns, a bounded wait. */
import { describe, expect, it } from 'vitest';
import { FairQueue, QueueFullError } from '../src/fair-queue.js';

/** A task that ends when `release` is called, logging its start and end. */
function gated(log: string[], name: string): { task: () => Promise<string>; release: () => void } {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    task: async () => {
      log.push(`start ${name}`);
      await done;
      return name;
    },
    release,
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('FairQueue', () => {
  it('runs at most `concurrency` tasks, and gives each freed slot to the next owner in turn, not to the oldest task', async () => {
    const queue = new FairQueue(1, 100);
    const log: string[] = [];
    const [big, small] = [{}, {}];
    const bigTasks = [1, 2, 3, 4].map((i) => gated(log, `big${i}`));
    const smallTask = gated(log, 'small');
    const results = [...bigTasks.map((t) => queue.run(big, t.task)), queue.run(small, smallTask.task)];
    await turn();
    expect(log).toEqual(['start big1']);
    expect(queue.waiting).toBe(4);
    bigTasks[0]!.release();
    await turn();
    // the small request's one task comes before the big request's second
    expect(log).toEqual(['start big1', 'start small']);
    smallTask.release();
    for (const t of bigTasks.slice(1)) {
      await turn();
      t.release();
    }
    expect(await Promise.all(results)).toEqual(['big1', 'big2', 'big3', 'big4', 'small']);
    expect(log).toEqual(['start big1', 'start small', 'start big2', 'start big3', 'start big4']);
    expect(queue.waiting).toBe(0);
  });

  it('alternates between owners that each have many tasks, and runs two at once with concurrency 2', async () => {
    const queue = new FairQueue(2, 100);
    const order: string[] = [];
    const owners = [{}, {}, {}];
    const runs = owners.flatMap((owner, o) =>
      [0, 1, 2].map((i) =>
        queue.run(owner, async () => {
          order.push(`${o}.${i}`);
          await turn();
        }),
      ),
    );
    await Promise.all(runs);
    // owner 0 starts two (both slots were free), then the owners take turns
    expect(order).toEqual(['0.0', '0.1', '1.0', '2.0', '0.2', '1.1', '2.1', '1.2', '2.2']);
  });

  it('refuses a task when `maxWaiting` wait already, and frees the slot of a task that fails', async () => {
    const queue = new FairQueue(1, 2);
    const log: string[] = [];
    const first = gated(log, 'first');
    const running = queue.run({}, first.task);
    const waiting = [queue.run({}, async () => 'second'), queue.run({}, async () => 'third')];
    await expect(queue.run({}, async () => 'fourth')).rejects.toThrow(QueueFullError);
    first.release();
    expect(await Promise.all([running, ...waiting])).toEqual(['first', 'second', 'third']);
    await expect(queue.run({}, async () => Promise.reject(new Error('broken')))).rejects.toThrow('broken');
    expect(await queue.run({}, async () => 'after')).toBe('after');
  });
});
