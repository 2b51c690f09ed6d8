/**
 * A throwaway Redis for queue tests: Debian's redis-server on a free loopback port, in a temp
 * folder, without persistence; `hasRedis` is false where it is not installed (the tests skip).
 * Optionally with a password, and TLS only (test/fixtures/certificates.ts), asking clients for a
 * certificate or not.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { TestCertificates } from '../fixtures/certificates.js';
import { onFreePort, untilReady } from '../fixtures/local-server.js';

export const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

export interface RedisSecurity {
  password?: string;
  /** TLS only (no plain port): the URL is rediss://. */
  tls?: TestCertificates;
  /** With `tls`: clients must show a certificate signed by the test authority (Redis's default). */
  clientCertificates?: boolean;
}

export interface TestRedis {
  url: string;
  port: number;
  /** Stops (SIGSTOP) or continues the server: its connections stay open, it answers nothing meanwhile. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** `port`: a given one (to start Redis again where a stopped one was), else a free one. */
export function startRedis(dir: string, port?: number, security: RedisSecurity = {}): Promise<TestRedis> {
  return port === undefined ? onFreePort((free) => startRedisOn(dir, free, security)) : startRedisOn(dir, port, security);
}

async function startRedisOn(dir: string, port: number, security: RedisSecurity): Promise<TestRedis> {
  const { password, tls, clientCertificates = false } = security;
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', clientCertificates ? 'yes' : 'no']
    : ['--port', String(port)];
  const args = [...listen, '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', ...(password ? ['--requirepass', password] : [])];
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await untilReady(child, 'Ready to accept connections', 'redis-server');
  return {
    url: `${tls ? 'rediss' : 'redis'}://${password ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${port}/0`,
    port,
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
