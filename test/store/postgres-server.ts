/**
 * A throwaway PostgreSQL server for tests: Debian's PostgreSQL (initdb + postgres) on a free
 * loopback port, in a temp folder, trust authentication, no fsync. Run as root, it runs as the
 * `postgres` user (the server refuses root). `postgresBin` is undefined where no server is
 * installed (the tests skip). Debian 12 packages no pgvector: `.ci/install-pgvector` builds it for
 * PostgreSQL 15 (CI runs it), and where it is installed the store's suites run on these servers too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, onFreePort, untilReady } from '../fixtures/local-server.js';

function findPostgresBin(): string | undefined {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)) : [];
  const candidates = [...(process.env.PATH ?? '').split(path.delimiter), ...versions.map((v) => path.join('/usr/lib/postgresql', v, 'bin'))];
  return candidates.find((dir) => dir && existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres')));
}

export const postgresBin = findPostgresBin();

/** The server's own folder, not that of a link to it (/usr/local/bin/postgres, say), where its other programs are. */
const installedBin = (binOnPath: string): string => path.dirname(realpathSync(path.join(binOnPath, 'postgres')));

/** Where an installation keeps its extensions: Debian's layout (bin in /usr/lib/postgresql/V), then a source build's. */
function extensionDirs(binOnPath: string): string[] {
  const bin = installedBin(binOnPath);
  const version = path.basename(path.dirname(bin));
  return [path.resolve(bin, '../../../../share/postgresql', version, 'extension'), path.resolve(bin, '../share/extension'), path.resolve(bin, '../share/postgresql/extension')];
}

/** Whether the installed server can create pgvector's extension. */
export const postgresHasPgvector = postgresBin !== undefined && extensionDirs(postgresBin).some((dir) => existsSync(path.join(dir, 'vector.control')));

/** The uid and gid the server runs as: this process's, or the `postgres` user's when this is root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const [uid, gid] = [id('-u'), id('-g')];
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0) throw new Error('running as root without a postgres user to run the test server as');
  return { uid, gid };
}

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres (a superuser, no password). */
  url: string;
  stop(): Promise<void>;
}

/** A folder of its own under the OS temp folder, which the `postgres` user can reach. */
function serverFolder(user: { uid: number; gid: number } | undefined): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-test-postgres-'));
  if (user) chownSync(dir, user.uid, user.gid);
  return dir;
}

/** Runs the server of the cluster in `dir`/data on a free loopback port until `stop`, which removes `dir`. */
function runServer(bin: string, dir: string, settings: string[], ready: string): Promise<TestPostgres> {
  return onFreePort((port) => runServerOn(bin, dir, settings, ready, port));
}

async function runServerOn(bin: string, dir: string, settings: string[], ready: string, port: number): Promise<TestPostgres> {
  const args = ['-D', path.join(dir, 'data'), '-p', String(port), '-k', dir, ...['listen_addresses=127.0.0.1', 'fsync=off', ...settings].flatMap((setting) => ['-c', setting])];
  const child: ChildProcess = spawn(path.join(bin, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...serverUser() });
  await untilReady(child, ready, 'postgres');
  // fast shutdown: connections are ended, nothing is waited for
  return serving(child, port, dir, 'SIGINT');
}

/** A started server (PostgreSQL, PgBouncer) on `port`; `stop` sends it `signal`, waits for its exit and removes `dir`. */
function serving(child: ChildProcess, port: number, dir: string, signal: NodeJS.Signals): TestPostgres {
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill(signal);
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A server in a folder of its own under the OS temp folder, removed by `stop`. `settings`: more
 * server settings (benches: shared_buffers=4GB ...).
 */
export async function startPostgres(settings: string[] = []): Promise<TestPostgres> {
  const bin = postgresBin;
  if (!bin) throw new Error('no PostgreSQL server installed');
  const user = serverUser();
  const dir = serverFolder(user);
  const initdb = spawnSync(path.join(bin, 'initdb'), ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], { encoding: 'utf8', ...user });
  if (initdb.status !== 0) throw new Error(`initdb failed: ${initdb.stderr}`);
  return runServer(bin, dir, settings, 'database system is ready to accept connections');
}

/**
 * A hot standby of `primary` (a server of startPostgres, whose trust authentication lets
 * replication in from loopback), as a user makes a read replica: a base backup with
 * `pg_basebackup -R`, then the server on it, which streams and replays the primary's changes
 * and takes read-only connections. `settings`: more server settings for the replica.
 */
export async function startReplica(primary: TestPostgres, settings: string[] = []): Promise<TestPostgres> {
  const bin = postgresBin;
  if (!bin) throw new Error('no PostgreSQL server installed');
  const user = serverUser();
  const dir = serverFolder(user);
  const { port } = new URL(primary.url);
  const backup = spawnSync(path.join(installedBin(bin), 'pg_basebackup'), ['-D', path.join(dir, 'data'), '-h', '127.0.0.1', '-p', port, '-U', 'postgres', '-R', '--no-sync', '--checkpoint=fast'], { encoding: 'utf8', ...user });
  if (backup.status !== 0) throw new Error(`pg_basebackup failed: ${backup.stderr ?? backup.error}`);
  return runServer(bin, dir, ['hot_standby=on', ...settings], 'database system is ready to accept read-only connections');
}

/** Debian's PgBouncer, where it is installed (the pooler tests skip without it). */
export const pgbouncerBin = ['/usr/sbin', ...(process.env.PATH ?? '').split(path.delimiter)].map((dir) => path.join(dir, 'pgbouncer')).find((file) => existsSync(file));

/**
 * PgBouncer in front of `server` on a free loopback port, pooling in `poolMode`, as users put one
 * between many clients and a server: trust authentication, any database name passed through.
 */
export async function startPgbouncer(server: TestPostgres, poolMode: 'transaction' | 'session'): Promise<TestPostgres> {
  if (!pgbouncerBin) throw new Error('no PgBouncer installed');
  const user = serverUser();
  const dir = serverFolder(user);
  const port = await freePort();
  writeFileSync(path.join(dir, 'users.txt'), '"postgres" ""\n');
  const settings = [
    '[databases]',
    `* = host=127.0.0.1 port=${new URL(server.url).port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${path.join(dir, 'users.txt')}`,
    `pool_mode = ${poolMode}`,
    'default_pool_size = 20',
  ];
  writeFileSync(path.join(dir, 'pgbouncer.ini'), `${settings.join('\n')}\n`);
  // PgBouncer refuses to run as root, as PostgreSQL does
  const child: ChildProcess = spawn(pgbouncerBin, [path.join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'], ...user });
  await untilReady(child, 'process up', 'pgbouncer');
  // immediate shutdown: SIGINT would wait for the open transactions of the pool
  return serving(child, port, dir, 'SIGTERM');
}
