/**
 * One client cannot hold the server's connections (connection-slots.ts): the QA's slow-loris
 * attack scaled down (more connections than the limit, each sending part of a request's headers
 * and reopened as soon as the server closes it) against a server with a small limit and a header
 * timeout far longer than the test, so nothing but the slot policy can let another client in.
 */
import { once } from 'node:events';
import { createServer, get as httpGet, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionSlots } from '../../src/server/connection-slots.js';
import type { RunningServer } from '../../src/server/index.js';
import { buildServedIndex, type ServedIndex } from './served-index.js';

const MAX_CONNECTIONS = 4;
const PATIENCE_MS = 8000;

let served: ServedIndex;
let running: RunningServer;
let port: number;
let logged = '';

beforeAll(async () => {
  served = await buildServedIndex('connection-slots', 2);
  // the log, to see what the attacks leave in it
  const out = new PassThrough().on('data', (chunk: Buffer) => (logged += chunk.toString()));
  running = await served.start({ logger: pino(out), connections: { maxConnections: MAX_CONNECTIONS, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 60_000 } });
  await running.ready;
  port = Number(new URL(running.url).port);
}, 180_000);
afterAll(async () => {
  await running?.close();
  served?.remove();
});

const openConnections = (): Promise<number> => new Promise((resolve, reject) => running.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

/** Connections from `localAddress` that send part of a request (its headers, by default), each reopened as soon as the server closes it, until `stop`. */
const PARTIAL_HEADERS = 'GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n';
/** A whole request's headers and the first byte of a body that never comes (slow POST). */
const PARTIAL_BODY = 'POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{';

function slowLoris(count: number, localAddress = '127.0.0.1', sent = PARTIAL_HEADERS): { stop(): void; opened(): number } {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<Socket>();
  const openOne = (): void => {
    if (stopped) return;
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => socket.write(sent));
    opened++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      setImmediate(openOne);
    });
  };
  for (let i = 0; i < count; i++) openOne();
  return {
    stop: () => {
      stopped = true;
      for (const socket of sockets) socket.destroy();
    },
    opened: () => opened,
  };
}

function open(localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** One GET on an open (kept-alive) connection: the status line of its answer. */
function get(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString();
      if (/\r\n\r\n[\s\S]*\}/.test(text)) {
        socket.off('data', onData);
        resolve(text.slice(0, text.indexOf('\r\n')));
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`the server closed the connection; it sent ${JSON.stringify(text)}`)));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

/** The status of a GET on a connection of its own (closed after it, as a curl's is). */
function statusOf(path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpGet(new URL(path, running.url), { agent: false, timeout: PATIENCE_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(`failed: ${error.code ?? error.message}`));
  });
}

describe('connection slots', () => {
  it('answers other requests while one client keeps more connections than the limit sending headers, reopening each one closed', async () => {
    const attack = slowLoris(MAX_CONNECTIONS + 2);
    try {
      // the attack holds every slot before the first probe
      await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(MAX_CONNECTIONS);
      const statuses: (number | string)[] = [];
      for (let i = 0; i < 5; i++) {
        statuses.push(await statusOf(i % 2 === 0 ? '/healthz' : '/api/search?q=tiles&k=1'));
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      // the attack went on all along: its connections were closed and reopened
      expect(attack.opened()).toBeGreaterThan(MAX_CONNECTIONS + 2);
    } finally {
      attack.stop();
    }
    await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(0);
  });

  it('answers other requests while one client keeps more connections than the limit sending a request body that never ends, reopening each one closed (slow POST)', async () => {
    const attack = slowLoris(MAX_CONNECTIONS + 2, '127.0.0.1', PARTIAL_BODY);
    try {
      await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(MAX_CONNECTIONS);
      const statuses: (number | string)[] = [];
      for (let i = 0; i < 5; i++) statuses.push(await statusOf(i % 2 === 0 ? '/healthz' : '/api/search?q=tiles&k=1'));
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
    } finally {
      attack.stop();
    }
    await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(0);
    // the requests the server cut to make room are not logged one by one (an attack would flood the
    // log): only those open when the attack stopped, which their client broke off
    const lines = logged.split('\n').filter((line) => line.includes('"msg":"POST /api/search'));
    expect({ opened: attack.opened() > 3 * MAX_CONNECTIONS, logged: lines.length <= MAX_CONNECTIONS }, lines.length + ' lines').toEqual({ opened: true, logged: true });
  });

  it("closes connections waiting for their request's headers before another client's upload under way", async () => {
    const upload = await open('127.0.0.2');
    upload.write(PARTIAL_BODY);
    let closed = false;
    upload.on('close', () => (closed = true));
    const attack = slowLoris(MAX_CONNECTIONS + 2);
    try {
      await expect.poll(() => attack.opened(), { timeout: PATIENCE_MS, interval: 20 }).toBeGreaterThan(MAX_CONNECTIONS * 10);
      expect(closed).toBe(false);
    } finally {
      attack.stop();
      upload.destroy();
    }
    await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(0);
  });

  it("takes the slot from the address holding the most connections, not from another client's connection that has waited longer", async () => {
    // another client (another loopback address) that has connected and not yet sent its request
    const other = await open('127.0.0.2');
    await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(1);
    const attack = slowLoris(MAX_CONNECTIONS + 2);
    try {
      await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(MAX_CONNECTIONS);
      // the attack reconnected many times over the other client's connection
      await expect.poll(() => attack.opened(), { timeout: PATIENCE_MS, interval: 20 }).toBeGreaterThan(MAX_CONNECTIONS * 10);
      expect(other.destroyed).toBe(false);
      expect(await get(other, '/healthz')).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      attack.stop();
      other.destroy();
    }
    await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(0);
  });

  it("keeps a client's kept-alive connection between its requests while connections that never sent a request can be closed instead", async () => {
    const client = await open();
    expect(await get(client, '/healthz')).toMatch(/^HTTP\/1\.1 200/);
    const attack = slowLoris(MAX_CONNECTIONS + 2);
    try {
      await expect.poll(() => attack.opened(), { timeout: PATIENCE_MS, interval: 20 }).toBeGreaterThan(MAX_CONNECTIONS * 10);
      expect(client.destroyed).toBe(false);
      expect(await get(client, '/healthz')).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      attack.stop();
      client.destroy();
    }
    await expect.poll(openConnections, { timeout: PATIENCE_MS, interval: 20 }).toBe(0);
  });
});

describe('connection slots on a bare server', () => {
  it('closes a newcomer at once when every connection has a request the server is working on, and takes none of them', async () => {
    const held: ServerResponse[] = [];
    const server = createServer((req, res) => {
      // the whole request has arrived; the answer is being worked on
      req.resume();
      req.on('end', () => held.push(res));
    });
    new ConnectionSlots(server, 2);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const bare = (server.address() as AddressInfo).port;
    const connectBare = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect(bare, '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      });
    try {
      const working: Socket[] = [];
      for (let i = 0; i < 2; i++) {
        const socket = await connectBare();
        socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        working.push(socket);
      }
      await expect.poll(() => held.length, { timeout: PATIENCE_MS, interval: 10 }).toBe(2);
      const newcomer = await connectBare();
      const sent = await new Promise<string>((resolve) => {
        let text = '';
        newcomer.on('data', (d: Buffer) => (text += d.toString()));
        newcomer.on('close', () => resolve(text));
      });
      expect(sent).toBe('');
      // the requests being worked on are answered on their own connections
      const answers = working.map((socket) => new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString()))));
      for (const res of held) res.end('done');
      for (const answer of answers) expect(await answer).toMatch(/^HTTP\/1\.1 200 [\s\S]*done$/);
      for (const socket of working) socket.destroy();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
