/**
 * Whether a port can be listened on, found out by listening on it for a moment: `rsclip up`
 * asks before it spends minutes indexing, so a busy port is reported first, not last.
 */
import { createServer } from 'node:net';

/** Resolves when `host:port` is free to listen on; rejects with the listen error (EADDRINUSE, EACCES...) otherwise. */
export function assertPortAvailable(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
