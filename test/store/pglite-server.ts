/**
 * A PostgreSQL engine with pgvector for tests: PGlite (PostgreSQL compiled to WebAssembly) with
 * its pgvector extension, served over the PostgreSQL wire protocol by pglite-socket on a loopback
 * port, so the store reaches it through the same `pg` client code users point at a server.
 * PGlite is one session: pglite-socket multiplexes its clients onto it and keeps a transaction's
 * statements together (the store runs every statement in a transaction); session state (advisory
 * locks) is shared, so the write lock is tested against a real server only.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { TestCertificates } from '../fixtures/certificates.js';

export interface PgliteServer {
  /** postgres:// URL of the server's one database. */
  url: string;
  stop(): Promise<void>;
}

/**
 * `dataDir`: keep the database in that directory (kept after stop) instead of in memory; `port`: 0
 * for any free one; `pgvector: false`: a server that lacks it.
 */
export async function startPgliteServer(dataDir?: string, port = 0, options: { pgvector?: boolean } = {}): Promise<PgliteServer> {
  const db = await PGlite.create({ dataDir, extensions: options.pgvector === false ? {} : { vector } });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 64 });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

/** The first message of a client that wants TLS (PostgreSQL's SSLRequest: length 8, then this code). */
const SSL_REQUEST_CODE = 80877103;

/**
 * `server` behind TLS, as a PostgreSQL server with `hostssl ... clientcert=verify-full` takes
 * clients: it answers a client's SSLRequest with 'S', then the TLS handshake must show a client
 * certificate signed by the test authority; a client that does not ask for TLS is dropped.
 * pglite-socket speaks no TLS itself, so this front decrypts and passes the bytes on.
 */
export async function startTlsFront(server: PgliteServer, certificates: TestCertificates): Promise<PgliteServer> {
  const upstream = new URL(server.url);
  const secure = tls.createServer({ cert: readFileSync(certificates.certFile), key: readFileSync(certificates.keyFile), ca: readFileSync(certificates.caFile), requestCert: true, rejectUnauthorized: true });
  const sockets = new Set<net.Socket>();
  secure.on('secureConnection', (client) => {
    const database = net.connect(Number(upstream.port), upstream.hostname);
    database.on('error', () => client.destroy());
    client.on('error', () => database.destroy());
    client.pipe(database).pipe(client);
  });
  secure.on('tlsClientError', () => undefined);
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (first) => {
      if (first.length !== 8 || first.readInt32BE(4) !== SSL_REQUEST_CODE) return socket.destroy();
      socket.write('S');
      secure.emit('connection', socket);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const { port } = front.address() as net.AddressInfo;
  return {
    url: `postgres://${upstream.username}@127.0.0.1:${port}${upstream.pathname}`,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
