/**
 * Responses the server cuts short itself: an answer its client stops reading (a client that never
 * reads held its connection, one of maxConnections, for good), and the requests still running
 * when the shutdown's grace period ends (they were cut with no answer, logged as "aborted by the
 * client"). A request that is computing, or whose client reads slowly, is not cut, nor one nobody
 * reads while connections are plenty (a slow link looks the same to the server). The limits are
 * set small here; the waits are upper bounds for events that follow within a second or two.
 */
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { buildServedIndex, type ServedIndex } from './served-index.js';

const PATIENCE_MS = 10_000;
const STALL_MS = 400;

let served: ServedIndex;
/** The id of an image file larger than loopback's socket buffers take from a client that reads nothing. */
let bigId: number;

beforeAll(async () => {
  served = await buildServedIndex('in-flight', 1);
  writeFileSync(path.join(served.archive, 'big.png'), makePng(7, 3000, 3000));
  // whole: a tile's /file is a rendered window, not this file
  await indexInto({ roots: [served.archive], index: served.index, model: served.modelDir, threads: 1, tile: 'off' });
  const running = await served.start();
  const page = (await (await fetch(new URL('/api/search?q=x&k=5', running.url))).json()) as { hits: { id: number; path: string }[] };
  bigId = page.hits.find((hit) => hit.path.endsWith('big.png'))!.id;
  await running.close();
}, 180_000);
afterAll(() => served?.remove());

interface Logged {
  level: number;
  msg: string;
}

async function startLogged(connections: Record<string, number>): Promise<{ running: RunningServer; port: number; entries: () => Logged[] }> {
  let text = '';
  const out = new PassThrough().on('data', (chunk: Buffer) => (text += chunk.toString()));
  const running = await served.start({ logger: pino(out), connections });
  return { running, port: Number(new URL(running.url).port), entries: () => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Logged) };
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Resolves when the server closes `socket` (the client reads all); rejects if it is still open after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error('the server kept the connection open')), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const openConnections = (running: RunningServer): Promise<number> => new Promise((resolve, reject) => running.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('responses in flight', () => {
  it('cuts the connection of a client that reads nothing of a large answer while half the connections are open, and logs that once as such', async () => {
    // one connection of two: half
    const { running, port, entries } = await startLogged({ writeStallTimeoutMs: STALL_MS, maxConnections: 2 });
    try {
      const socket = await open(port);
      socket.pause();
      socket.write(`GET /api/images/${bigId}/file HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      // the server closed its side: a client that reads nothing never sees the end of what it left unread
      await expect.poll(() => openConnections(running), { timeout: PATIENCE_MS, interval: 50 }).toBe(0);
      socket.destroy();
      const cut = entries().filter((entry) => entry.msg.includes(`/api/images/${bigId}/file`));
      expect(cut).toEqual([expect.objectContaining({ level: 40, msg: expect.stringMatching(/^GET \/api\/images\/\d+\/file cut: its client read nothing of the answer for [\d.]+ s, with 1 connections open \(after \d+ ms\)$/) })]);
    } finally {
      await running.close();
    }
  });

  it('leaves an answer nobody reads alone while connections are plenty (a slow link looks the same), and cuts it once half are open', async () => {
    const { running, port, entries } = await startLogged({ writeStallTimeoutMs: STALL_MS, maxConnections: 6 });
    const idle: Socket[] = [];
    try {
      const socket = await open(port);
      socket.pause();
      socket.write(`GET /api/images/${bigId}/file HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      await sleep(STALL_MS * 5);
      expect(await openConnections(running)).toBe(1);
      // three of six open: the stalled answer goes
      for (let i = 0; i < 2; i++) idle.push(await open(port));
      await expect.poll(() => openConnections(running), { timeout: PATIENCE_MS, interval: 50 }).toBe(2);
      socket.destroy();
      expect(entries().filter((entry) => entry.msg.includes(' cut: '))).toEqual([expect.objectContaining({ msg: expect.stringMatching(/, with 3 connections open /) })]);
    } finally {
      for (const socket of idle) socket.destroy();
      await running.close();
    }
  });

  it('keeps a client that keeps reading, and a request that is still arriving (nothing waits for the client to read)', async () => {
    // a more generous limit than the others': a busy test machine must not make a reader look stalled
    const stallMs = STALL_MS * 3;
    const { running, port, entries } = await startLogged({ writeStallTimeoutMs: stallMs, requestTimeoutMs: 60_000 });
    try {
      const reader = await open(port);
      reader.pause();
      reader.write(`GET /api/images/${bigId}/file HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      let received = 0;
      // in bursts, paused in between: progress the server sees only as often as the kernel hands it
      // a freed third of its socket buffer, so the pace is the stall limit's, not a modem's
      const pace = setInterval(() => {
        reader.resume();
        setTimeout(() => reader.pause(), 5);
      }, stallMs / 10);
      reader.on('data', (chunk: Buffer) => (received += chunk.length));
      const arriving = await open(port);
      arriving.write('POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"terms":');
      await sleep(stallMs * 3);
      clearInterval(pace);
      expect(received).toBeGreaterThan(1024 * 1024);
      expect(reader.destroyed).toBe(false);
      expect(arriving.destroyed).toBe(false);
      expect(entries().filter((entry) => entry.level >= 40)).toEqual([]);
      reader.destroy();
      arriving.destroy();
    } finally {
      await running.close();
    }
  });

  it('answers 503 SHUTTING_DOWN to a request still unanswered when the shutdown grace ends, and logs it as cut by the shutdown', async () => {
    const { running, port, entries } = await startLogged({ shutdownGraceMs: 300, requestTimeoutMs: 60_000 });
    const socket = await open(port);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    // a request whose body never ends: its handler is still waiting when the server shuts down
    socket.write('POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"terms":');
    await sleep(100);
    await running.close();
    await closedWithin(socket, PATIENCE_MS);
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('SHUTTING_DOWN');
    const logged = entries().filter((entry) => entry.msg.startsWith('POST /api/search'));
    expect(logged).toEqual([expect.objectContaining({ level: 40, msg: expect.stringMatching(/^POST \/api\/search answered 503: the server shut down before it was done \(after \d+ ms\)$/) })]);
    expect(entries().some((entry) => entry.msg.includes('aborted by the client'))).toBe(false);
  });
});
