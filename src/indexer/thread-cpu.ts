/**
 * CPU seconds (user + system) of the calling thread, main or worker: Node 20 has a clock for the
 * process only. Read from /proc/thread-self/stat, so Linux only (undefined elsewhere); the kernel
 * counts in clock ticks of 10 ms (USER_HZ is 100 on Linux), so sums over a run are exact to a few
 * ticks and one short task's share is not.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;
/** utime and stime: fields 14 and 15 of the stat line, the 12th and 13th after the command name. */
const UTIME_AFTER_COMM = 11;

let available = process.platform === 'linux';

export function threadCpuSeconds(): number | undefined {
  if (!available) return undefined;
  let stat: string;
  try {
    stat = readFileSync('/proc/thread-self/stat', 'latin1');
  } catch {
    available = false;
    return undefined;
  }
  // the command name is in parentheses and may hold spaces or parentheses itself
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[UTIME_AFTER_COMM]) + Number(fields[UTIME_AFTER_COMM + 1])) / TICKS_PER_SECOND;
}
