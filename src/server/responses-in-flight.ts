/**
 * The responses a server is working on, for what node's own timeouts leave open. A client that
 * stops reading its answer holds its connection (one of maxConnections) for as long as it likes:
 * requestTimeout ends once the request has arrived, and a socket's idle timeout would also cut a
 * computation that has written nothing yet (a locate may compute for a minute). So while half the
 * connections or more are open, a response is cut when bytes wait for its client and none of them
 * has moved for `stallMs`; one that is computing (nothing waits) is not. Below that nothing is
 * cut: node sees a slow reader's progress only when the kernel frees a third of the socket's
 * buffer (about 1.3 MB on loopback: a 20 KB/s reader shows none for a minute), so a download at a
 * slow link's pace looks like one nobody reads. At shutdown, the responses still running are
 * answered 503 (their connection cut where the answer has begun). Each is logged as one warning
 * line that says why; the request log leaves it out.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ErrorBody } from './http-error.js';
import { markCutShort, redactSecrets } from './request-log.js';

interface Running {
  req: IncomingMessage;
  started: number;
  /** The socket's write state at the last check that found it changed, and when that was. */
  writeState: string;
  since: number;
}

/** The stall check runs this often at most (and twice per `stallMs` at least). */
const MAX_CHECK_MS = 1000;

/**
 * What a socket has written and still holds, as a string that changes whenever a byte moves. The
 * stream's own counts change only when a whole write completes; a large answer (a rendered PNG,
 * a long result page) is one write that libuv hands to the kernel a piece at a time, as its
 * handle's writeQueueSize shows.
 */
function writeState(socket: Socket): string {
  const handle = (socket as unknown as { _handle?: { writeQueueSize?: number } })._handle;
  return `${socket.bytesWritten}/${socket.writableLength}/${handle?.writeQueueSize ?? 0}`;
}

export class ResponsesInFlight {
  private readonly running = new Map<ServerResponse, Running>();
  private readonly timer: NodeJS.Timeout;
  private openConnections = 0;
  /** Open connections from which stalled responses are cut. */
  private readonly pressedAt: number;

  constructor(
    server: Server,
    private readonly logger: Logger,
    private readonly stallMs: number,
    maxConnections: number,
  ) {
    this.pressedAt = Math.max(1, Math.floor(maxConnections / 2));
    server.on('connection', (socket: Socket) => {
      this.openConnections++;
      socket.once('close', () => this.openConnections--);
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const now = performance.now();
      this.running.set(res, { req, started: now, writeState: '', since: now });
      res.once('close', () => this.running.delete(res));
    });
    this.timer = setInterval(() => this.cutStalled(), Math.max(10, Math.min(MAX_CHECK_MS, Math.floor(stallMs / 2)))).unref();
  }

  private cutStalled(): void {
    const now = performance.now();
    for (const [res, running] of this.running) {
      const socket = res.socket;
      if (!socket || socket.writableLength === 0) {
        // computing, or everything written is with the kernel: nothing waits for the client
        running.since = now;
        continue;
      }
      const state = writeState(socket);
      if (state !== running.writeState) {
        running.writeState = state;
        running.since = now;
      } else if (now - running.since >= this.stallMs && this.openConnections >= this.pressedAt) {
        this.cut(res, running, `cut: its client read nothing of the answer for ${this.stallMs / 1000} s, with ${this.openConnections} connections open`);
        socket.destroy();
      }
    }
  }

  /**
   * Shutdown's end: every response still running is answered 503, with its connection closed, or
   * (its answer begun) has its connection cut. The server's connections are closed after this.
   */
  endAll(): void {
    clearInterval(this.timer);
    for (const [res, running] of this.running) {
      if (res.headersSent) {
        this.cut(res, running, 'cut by the shutdown');
        res.socket?.destroy();
        continue;
      }
      this.cut(res, running, 'answered 503: the server shut down before it was done');
      const body = JSON.stringify({ error: { code: 'SHUTTING_DOWN', message: 'the server shut down before this request was done; ask again once it is back' } } satisfies ErrorBody);
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' }).end(body);
    }
  }

  /** Stops watching (the server has closed). */
  stop(): void {
    clearInterval(this.timer);
  }

  private cut(res: ServerResponse, running: Running, why: string): void {
    markCutShort(res);
    const url = redactSecrets(running.req.url ?? '');
    const ms = Math.round(performance.now() - running.started);
    this.logger.warn({ method: running.req.method, url, ms }, `${running.req.method} ${url} ${why} (after ${ms} ms)`);
  }
}
