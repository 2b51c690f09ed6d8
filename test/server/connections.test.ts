/**
 * Connection limits of startServer (issue 10, item 14): a cap on open connections, and clients
 * that send their headers too slowly or stay idle are cut. The limits are set small here; the
 * waits below are upper bounds for events that follow within a second, never measurements.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_LIMITS, type RunningServer } from '../../src/server/index.js';
import { buildServedIndex, type ServedIndex } from './served-index.js';

const PATIENCE_MS = 8000;

const MAX_CONNECTIONS = 2;

let served: ServedIndex;
let running: RunningServer;
let port: number;

beforeAll(async () => {
  served = await buildServedIndex('connections', 2);
  running = await served.start({ connections: { maxConnections: MAX_CONNECTIONS, headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300 } });
  port = Number(new URL(running.url).port);
}, 180_000);
afterAll(async () => {
  await running?.close();
  served?.remove();
});

const openConnections = (): Promise<number> => new Promise((resolve, reject) => running.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

// each test starts once the server has seen the previous test's connections close
afterEach(async () => {
  await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(0);
});

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Everything the server sends until it closes the socket; rejects if it is still open after PATIENCE_MS. */
function untilClosed(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    const timer = setTimeout(() => reject(new Error(`the server kept the connection open; it sent: ${JSON.stringify(text)}`)), PATIENCE_MS);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

function get(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString();
      if (/\r\n\r\n[\s\S]*\}/.test(text)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

describe('connection limits', () => {
  it('at maxConnections, gives a newcomer the slot of the connection that has waited longest for its request (told 408), and keeps the others', async () => {
    const first = await open();
    const firstClosed = untilClosed(first);
    const second = await open();
    const third = await open();
    const answer = await firstClosed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('REQUEST_TIMEOUT');
    expect(await get(third, '/healthz')).toMatch(/^HTTP\/1\.1 200/);
    expect(await get(second, '/healthz')).toMatch(/^HTTP\/1\.1 200/);
    second.destroy();
    third.destroy();
  });

  it('when no connection waits for its request, gives a newcomer the slot of one whose request body is still arriving (slow POST), told 408', async () => {
    // requests whose bodies are still arriving: their headers are in, nothing is answered
    const slow: Socket[] = [];
    let arrived = 0;
    const onRequest = (): void => void arrived++;
    running.server.on('request', onRequest);
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const socket = await open();
      socket.write('POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
      slow.push(socket);
    }
    await expect.poll(() => arrived, { timeout: PATIENCE_MS, interval: 10 }).toBe(MAX_CONNECTIONS);
    running.server.off('request', onRequest);
    const firstClosed = untilClosed(slow[0]!);
    const newcomer = await open();
    const answer = await firstClosed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error).toEqual({ code: 'REQUEST_TIMEOUT', message: "the request's body had not all arrived when the server, at its connection limit, needed this connection for another client" });
    expect(await get(newcomer, '/healthz')).toMatch(/^HTTP\/1\.1 200/);
    expect(slow[1]!.destroyed).toBe(false);
    newcomer.destroy();
    for (const socket of slow) socket.destroy();
  });

  it('answers 408 and closes a connection whose headers do not arrive in time (slow loris)', async () => {
    const socket = await open();
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    expect(await untilClosed(socket)).toMatch(/^HTTP\/1\.1 408/);
  });

  it('frees the slot of a slow client that never reads once it has been answered 408 (a half-closed socket kept it, and as many such clients as the limit locked everyone out)', async () => {
    const loris: Socket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const socket = await open();
      // never read: the answer and its end stay unread, so this client never closes its side
      socket.pause();
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      loris.push(socket);
    }
    expect(await openConnections()).toBe(loris.length);
    // the server closed every one of them, though none of their clients closed or read anything
    await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(0);
    expect(loris.every((socket) => !socket.destroyed)).toBe(true);
    const res = await fetch(new URL('/healthz', running.url));
    expect(res.status).toBe(200);
    await res.text();
    // each slow client was told why, in JSON, before its connection was closed
    for (const socket of loris) {
      const closed = untilClosed(socket);
      socket.resume();
      const text = await closed;
      expect(text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: 'the request took too long to arrive' } });
    }
  });

  it("answers what node's parser refuses with a JSON error too: 431 HEADERS_TOO_LARGE for a URL over 16 KiB (with a hint), 400 for bytes that are not HTTP", async () => {
    const long = await open();
    long.write(`GET /api/search?q=river&within=${'1'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const answer = await untilClosed(long);
    expect(answer).toMatch(/^HTTP\/1\.1 431 [\s\S]*application\/json/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'HEADERS_TOO_LARGE', message: 'the URL and headers of this request are larger than 16 KiB', hint: expect.stringMatching(/POST \/api\/search/) },
    });
    const garbage = await open();
    garbage.write('\u0000\u0001 not http\r\n\r\n');
    const refused = await untilClosed(garbage);
    expect(refused).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4)).error.code).toBe('BAD_REQUEST');
  });

  it('closes an idle keep-alive connection after a request', async () => {
    const socket = await open();
    expect(await get(socket, '/healthz')).toMatch(/keep-alive/i);
    await untilClosed(socket);
  });

  it('has defaults that suit a search API', () => {
    expect(DEFAULT_CONNECTION_LIMITS.maxConnections).toBeGreaterThanOrEqual(64);
    expect(DEFAULT_CONNECTION_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(DEFAULT_CONNECTION_LIMITS.requestTimeoutMs);
    expect(DEFAULT_CONNECTION_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(30_000);
    expect(DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs).toBeLessThan(DEFAULT_CONNECTION_LIMITS.headersTimeoutMs);
    // a client on a poor link may pause for seconds; one that reads nothing for this long holds a slot for nothing
    expect(DEFAULT_CONNECTION_LIMITS.writeStallTimeoutMs).toBeGreaterThanOrEqual(10_000);
    expect(DEFAULT_CONNECTION_LIMITS.writeStallTimeoutMs).toBeLessThanOrEqual(60_000);
    // the 503s and the closing fit in `docker stop`'s 10 s before SIGKILL
    expect(DEFAULT_CONNECTION_LIMITS.shutdownGraceMs).toBeLessThan(9_000);
  });
});
