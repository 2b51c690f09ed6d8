/**
 * Test hook for crash-safety tests: with RSCLIP_DEBUG_PAUSE_AT=<point> the process prints
 * `RSCLIP_PAUSED <point>` on stderr when it reaches that point and then waits forever, so a
 * test can SIGKILL it exactly there. Points: scan, embedded, committed (the indexer),
 * checkpoint (the graph synchroniser). Internal: no entry point exports it.
 */
export type PausePoint = 'scan' | 'embedded' | 'committed' | 'checkpoint';

export async function debugPause(point: PausePoint): Promise<void> {
  if (process.env.RSCLIP_DEBUG_PAUSE_AT !== point) return;
  process.stderr.write(`RSCLIP_PAUSED ${point}\n`);
  await new Promise<never>(() => {
    setInterval(() => undefined, 60_000);
  });
}
