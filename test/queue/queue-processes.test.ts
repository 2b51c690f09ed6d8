/**
 * Embedding on a queue across processes, against a real Redis: a coordinator and three worker
 * processes index a folder; the coordinator is killed (SIGKILL) after its first commit and run
 * again, and one worker is killed (SIGKILL) in the middle of a job of the second run. Every item
 * is in the index exactly once, none committed by the first run was embedded again, the killed
 * worker's job was done by another (stalled-job detection), and the catalog equals an index made
 * without the queue. Then `rsclip worker` and `rsclip index --queue` with a real (tiny) model
 * give the vectors `rsclip index` gives.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeModelFingerprint, openModelDirectory } from '../../src/model/index.js';
import { connectRedis } from '../../src/queue/connection.js';
import { DEFAULT_QUEUE_NAME, startEmbedWorker, type EmbedWorkerEvent } from '../../src/queue/index.js';
import { openIndex } from '../../src/store/index.js';
import { hasOpenssl, makeCertificates, type TestCertificates } from '../fixtures/certificates.js';
import { runCli, spawnCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';
import { writeQueueArchive } from './archive.js';
import { dumpCatalog } from './catalog.js';
import { exited, startChild, until } from './children.js';
import { hasRedis, startRedis, type RedisSecurity, type TestRedis } from './redis-server.js';

const WORKER = path.join(import.meta.dirname, 'worker.child.ts');
const COORDINATOR = path.join(import.meta.dirname, 'coordinator.child.ts');
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-queue-proc-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type TraceEvent = EmbedWorkerEvent & { pid: number };

function readTrace(file: string): TraceEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TraceEvent);
}

describe('rsclip index queue options', () => {
  it('refuse --queue-depth and --queue-timeout without --queue, in one line', async () => {
    const archive = path.join(work, 'options-archive');
    mkdirSync(archive, { recursive: true });
    for (const option of ['--queue-depth', '--queue-timeout']) {
      const run = await runCli(['index', archive, '--index', path.join(work, 'options-index'), option, '5']);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`${option} needs --queue`);
    }
  });
});

describe.skipIf(!hasRedis)('a coordinator and three worker processes [needs redis-server]', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis(work);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('survive a killed coordinator and a killed worker with every item once, none embedded again after its commit', { timeout: 300_000 }, async () => {
    const archive = path.join(work, 'archive');
    writeQueueArchive(archive, 16);
    const reference = path.join(work, 'reference');
    const expected = await indexInto({ roots: [archive], index: reference, model: new FakeEncoder(), batchSize: 2 });
    const trace = path.join(work, 'trace.jsonl');
    const workers = [0, 1, 2].map(() => startChild(WORKER, [redis.url, trace, '500']));
    const index = path.join(work, 'queued');
    try {
      await until('three workers', () => (workers.every((w) => w.output().stdout.includes('ready')) ? true : undefined));

      // the first run is killed once its first batch is committed
      const first = startChild(COORDINATOR, [redis.url, archive, index, '2'], { RSCLIP_DEBUG_PAUSE_AT: 'committed' });
      await until('the first commit', () => (first.output().stderr.includes('RSCLIP_PAUSED committed') ? true : undefined));
      first.kill('SIGKILL');
      await exited(first);
      const afterFirst = await dumpCatalog(index);
      const committed = new Set(Object.keys(afterFirst.items).map((k) => path.join(archive, k)));
      expect(committed.size).toBeGreaterThan(0);
      expect(committed.size).toBeLessThan(expected.embedded);

      const second = startChild(COORDINATOR, [redis.url, archive, index, '2']);
      const run = await until('the second run', () => /RUN (\S+)/.exec(second.output().stderr)?.[1]);
      // a worker killed in the middle of a job of the second run
      const victim = workers[0]!;
      const killedJob = await until('a job of the second run on the first worker', () => readTrace(trace).find((e) => e.pid === victim.pid && e.run === run && e.phase === 'start'));
      victim.kill('SIGKILL');
      const result = await exited(second);
      expect(result, second.output().stderr).toEqual({ code: 0, signal: null });
      const summary = JSON.parse(second.output().stdout.trim().split('\n').pop()!) as typeof expected;

      const events = readTrace(trace).filter((e) => e.run === run);
      // the killed worker never finished its job; another one did (stalled-job detection)
      expect(events.some((e) => e.pid === victim.pid && e.job === killedJob.job && e.phase === 'done')).toBe(false);
      expect(events.filter((e) => e.job === killedJob.job && e.phase === 'done').map((e) => e.pid)).toHaveLength(1);
      // nothing the first run committed was sent again, and no window of the second run was embedded twice
      const sent = events.filter((e) => e.phase === 'start').flatMap((e) => e.windows);
      expect(sent.filter((w) => committed.has(w))).toEqual([]);
      const done = events.filter((e) => e.phase === 'done').flatMap((e) => e.windows);
      expect(new Set(done).size).toBe(done.length);

      // the first commit held embedded items only (a copy is reused once its original is committed)
      expect(summary.embedded).toBe(expected.embedded - committed.size);
      const final = await dumpCatalog(index);
      const wanted = await dumpCatalog(reference);
      expect(final).toEqual(wanted);
      const store = await openIndex(index, { readonly: true });
      expect(await store.stats()).toMatchObject({ items: wanted.itemCount, vectors: wanted.itemCount, details: { hnsw: { size: wanted.itemCount } } });
      await store.close();
    } finally {
      for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
      await Promise.all(workers.map(exited));
    }
  });

  it('rsclip worker and rsclip index --queue with a real model give the vectors rsclip index gives', { timeout: 300_000 }, async () => {
    const model = await tinyModelDir();
    const archive = path.join(work, 'cli-archive');
    mkdirSync(archive);
    for (let i = 0; i < 5; i++) writeFileSync(path.join(archive, `img${i}.png`), makePng(300 + i, 48, 40));
    const local = await runCli(['index', archive, '--index', path.join(work, 'cli-local'), '--model', model, '--threads', '1', '--json']);
    expect(local.code, local.stderr).toBe(0);
    // two model sessions of a thread each, taking two jobs at a time
    const worker = spawnCli(['worker', '--queue', redis.url, '--model', model, '--threads', '2', '--model-sessions', '2', '--json']);
    let workerLog = '';
    worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
    try {
      await until('the worker', () => (workerLog.includes('waiting for jobs') ? true : undefined));
      expect(workerLog).toMatch(/, 2 sessions\), waiting for jobs/);
      const queued = await runCli(['index', archive, '--index', path.join(work, 'cli-queued'), '--model', model, '--threads', '1', '--batch', '2', '--queue', redis.url, '--json']);
      expect(queued.code, queued.stderr).toBe(0);
      expect(JSON.parse(queued.stdout)).toMatchObject({ added: 5, embedded: 5, errors: 0, queue: { workers: [{ worker: expect.stringMatching(/:\d+$/), items: 5 }], resent: 0 } });
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited(worker)).toEqual({ code: 0, signal: null });
    expect(workerLog).toMatch(/"phase":"done"/);
    expect(await dumpCatalog(path.join(work, 'cli-queued'))).toEqual(await dumpCatalog(path.join(work, 'cli-local')));
  });

  it('rsclip worker says once that Redis is gone, not at every reconnect attempt, and again when it answers', { timeout: 120_000 }, async () => {
    const own = await startRedis(work);
    const worker = spawnCli(['worker', '--queue', own.url, '--model', await tinyModelDir(), '--threads', '1']);
    let workerLog = '';
    worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
    try {
      await until('the worker', () => (workerLog.includes('waiting for jobs') ? true : undefined));
      await own.stop();
      // attempts come 50 ms, 100 ms, ... apart: in 4 s there are over a dozen
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const lost = workerLog.split('\n').filter((line) => line.includes('ECONNREFUSED'));
      expect(lost, workerLog).toHaveLength(1);
      expect(lost[0]).toMatch(/retrying until Redis answers/);
      const again = await startRedis(work, own.port);
      try {
        await until('Redis answering again', () => (workerLog.includes('Redis answers again') ? true : undefined), 30_000);
      } finally {
        worker.kill('SIGTERM');
        expect(await exited(worker)).toEqual({ code: 0, signal: null });
        await again.stop();
      }
    } finally {
      worker.kill('SIGKILL');
      await own.stop();
    }
  });

  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`one ${signal} with no worker running takes the waiting jobs back and ends the run at once (${code}), leaving no job and no lease in Redis; the index opens`, { timeout: 120_000 }, async () => {
      const own = await startRedis(work, signal === 'SIGTERM' ? 47612 : 47613);
      const archive = path.join(work, `no-worker-archive-${signal}`);
      mkdirSync(archive);
      for (let i = 0; i < 3; i++) writeFileSync(path.join(archive, `img${i}.png`), makePng(700 + i, 48, 40));
      const indexDir = path.join(work, `no-worker-index-${signal}`);
      const coordinator = spawnCli(['index', archive, '--index', indexDir, '--model', await tinyModelDir(), '--threads', '1', '--batch', '1', '--queue', own.url]);
      let stderr = '';
      coordinator.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const client = await connectRedis(own.url);
      try {
        // the jobs are sent: nothing takes them
        await until('jobs waiting in Redis', async () => ((await client.llen(`bull:${DEFAULT_QUEUE_NAME}:wait`)) === 3 ? true : undefined), 60_000);
        coordinator.kill(signal);
        // without a second signal: a stop by a service manager or `timeout` is one SIGTERM
        expect(await exited(coordinator)).toEqual({ code, signal: null });
        expect(stderr).toContain('the jobs no worker has taken are taken back');
        expect(await client.llen(`bull:${DEFAULT_QUEUE_NAME}:wait`)).toBe(0);
        expect(await client.exists(`rsclip:coordinator:${DEFAULT_QUEUE_NAME}`)).toBe(0);
      } finally {
        client.disconnect();
        coordinator.kill('SIGKILL');
        await own.stop();
      }
      const store = await openIndex(indexDir, { readonly: true });
      expect(await store.countItems()).toBe(0);
      await store.close();
    });
  }

  it('rsclip index --queue never opens an inference session: it indexes with a model whose ONNX files onnxruntime cannot read', { timeout: 300_000 }, async () => {
    // the tiny model with its ONNX files replaced by bytes that fingerprint like any file but are no model
    const model = path.join(work, 'unloadable-model');
    cpSync(await tinyModelDir(), model, { recursive: true });
    const dir = openModelDirectory(model, { variant: 'fp32' });
    for (const file of [dir.onnx.vision, dir.onnx.text]) writeFileSync(file, `not an onnx graph: ${path.basename(file)}\n`);
    const archive = path.join(work, 'unloadable-archive');
    mkdirSync(archive);
    for (let i = 0; i < 3; i++) writeFileSync(path.join(archive, `img${i}.png`), makePng(400 + i, 48, 40));
    // without the queue the model must run here, and cannot
    const local = await runCli(['index', archive, '--index', path.join(work, 'unloadable-local'), '--model', model, '--threads', '1', '--json']);
    expect(local.code).not.toBe(0);
    expect(local.stderr).toMatch(/cannot load ONNX model .*vision_model\.onnx/);
    // a worker answering for that model's fingerprint (its own encoder is model-free)
    const fingerprint = await computeModelFingerprint(dir, { cacheDir: null });
    const worker = await startEmbedWorker({ url: redis.url, encoder: new FakeEncoder({ fingerprint, dim: dir.config.projection_dim }) });
    try {
      const queued = await runCli(['index', archive, '--index', path.join(work, 'unloadable-queued'), '--model', model, '--threads', '1', '--batch', '2', '--queue', redis.url, '--json']);
      expect(queued.code, queued.stderr).toBe(0);
      expect(JSON.parse(queued.stdout)).toMatchObject({ added: 3, embedded: 3, errors: 0 });
    } finally {
      await worker.close();
    }
  });
});

/** A TLS-only Redis in a folder of its own, with the certificates of a test authority made there. */
async function startTlsRedis(name: string, security: Omit<RedisSecurity, 'tls'>): Promise<{ redis: TestRedis; certificates: TestCertificates }> {
  const dir = path.join(work, name);
  const certificates = makeCertificates(dir);
  return { redis: await startRedis(dir, undefined, { ...security, tls: certificates }), certificates };
}

describe.skipIf(!hasRedis || !hasOpenssl)('a queue over TLS with a password [needs redis-server and openssl]', () => {
  const password = 'pw-4f9c-never-printed';
  let redis: TestRedis;
  let certificates: TestCertificates;
  beforeAll(async () => {
    ({ redis, certificates } = await startTlsRedis('tls', { password }));
  });
  afterAll(() => redis?.stop());

  it('indexes through rediss:// with the authority in NODE_EXTRA_CA_CERTS, the password in the URL or in RSCLIP_QUEUE_PASSWORD, and never prints it', { timeout: 300_000 }, async () => {
    expect(redis.url).toMatch(/^rediss:\/\/:pw-/);
    const model = await tinyModelDir();
    const archive = path.join(work, 'tls-archive');
    mkdirSync(archive);
    for (let i = 0; i < 3; i++) writeFileSync(path.join(archive, `img${i}.png`), makePng(500 + i, 48, 40));
    const trusted = { env: { NODE_EXTRA_CA_CERTS: certificates.caFile } };
    const worker = spawnCli(['worker', '--queue', redis.url, '--model', model, '--threads', '1'], trusted);
    let workerLog = '';
    worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
    worker.stdout!.on('data', (d: Buffer) => (workerLog += d.toString()));
    try {
      await until('the worker', () => (workerLog.includes('waiting for jobs') ? true : undefined));
      expect(workerLog).toContain(`waiting for jobs on ${redis.url.replace(password, '***')}`);
      const withoutPassword = redis.url.replace(`:${password}@`, '');
      const queued = await runCli(['index', archive, '--index', path.join(work, 'tls-index'), '--model', model, '--threads', '1', '--queue', withoutPassword, '--json'], {
        env: { ...trusted.env, RSCLIP_QUEUE_PASSWORD: password },
      });
      expect(queued.code, queued.stderr).toBe(0);
      expect(JSON.parse(queued.stdout)).toMatchObject({ added: 3, embedded: 3, errors: 0 });
      expect(queued.stdout + queued.stderr).not.toContain(password);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited(worker)).toEqual({ code: 0, signal: null });
    expect(workerLog).not.toContain(password);
  });

  it('says why it cannot connect: an untrusted certificate, a wrong password', { timeout: 120_000 }, async () => {
    const archive = path.join(work, 'tls-refused-archive');
    mkdirSync(archive);
    writeFileSync(path.join(archive, 'img.png'), makePng(600, 48, 40));
    const model = await tinyModelDir();
    const index = (url: string, env: Record<string, string>) => runCli(['index', archive, '--index', path.join(work, 'tls-refused-index'), '--queue', url, '--model', model], { env });
    const untrusted = await index(redis.url, {});
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/^rsclip: cannot reach Redis at 127\.0\.0\.1:\d+: self[- ]signed certificate in certificate chain \(the server's TLS certificate is not trusted: .*NODE_EXTRA_CA_CERTS/m);
    const wrong = await index(redis.url.replace(password, 'not-the-password'), { NODE_EXTRA_CA_CERTS: certificates.caFile });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/^rsclip: cannot reach Redis at 127\.0\.0\.1:\d+: WRONGPASS .*\(check the user name and password in the --queue URL/m);
    expect(untrusted.stderr + wrong.stderr).not.toContain(password);
  });
});

describe.skipIf(!hasRedis || !hasOpenssl)('a Redis that asks for client certificates [needs redis-server and openssl]', () => {
  let redis: TestRedis;
  let certificates: TestCertificates;
  beforeAll(async () => {
    ({ redis, certificates } = await startTlsRedis('mtls', { clientCertificates: true }));
  });
  afterAll(() => redis?.stop());

  it('indexes with the authority and the client certificate named in the rediss:// URL; without the certificate it says what to add', { timeout: 300_000 }, async () => {
    const model = await tinyModelDir();
    const archive = path.join(work, 'mtls-archive');
    mkdirSync(archive);
    for (let i = 0; i < 3; i++) writeFileSync(path.join(archive, `img${i}.png`), makePng(700 + i, 48, 40));
    const authority = `?sslrootcert=${encodeURIComponent(certificates.caFile)}`;
    const withCertificate = `${redis.url}${authority}&sslcert=${encodeURIComponent(certificates.clientCertFile)}&sslkey=${encodeURIComponent(certificates.clientKeyFile)}`;
    const index = (url: string) => runCli(['index', archive, '--index', path.join(work, 'mtls-index'), '--model', model, '--threads', '1', '--queue', url, '--json']);

    const refused = await index(`${redis.url}${authority}`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^rsclip: cannot reach Redis at 127\.0\.0\.1:\d+: .*\(the server closed the TLS connection: if it asks for client certificates, add \?sslcert=.*&sslkey=/m);
    const stranger = makeCertificates(path.join(work, 'mtls-stranger'), 'another authority');
    const strangers = await index(`${redis.url}${authority}&sslcert=${encodeURIComponent(stranger.clientCertFile)}&sslkey=${encodeURIComponent(stranger.clientKeyFile)}`);
    expect(strangers.code).not.toBe(0);
    expect(strangers.stderr).toMatch(/^rsclip: cannot reach Redis at 127\.0\.0\.1:\d+: .*\(the server closed the TLS connection: if it checks client certificates, yours must be signed by an authority it trusts/m);

    // no NODE_EXTRA_CA_CERTS: the URL's sslrootcert is the only authority trusted
    const worker = spawnCli(['worker', '--queue', withCertificate, '--model', model, '--threads', '1']);
    let workerLog = '';
    worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
    worker.stdout!.on('data', (d: Buffer) => (workerLog += d.toString()));
    try {
      await until('the worker', () => (workerLog.includes('waiting for jobs') ? true : undefined));
      const queued = await index(withCertificate);
      expect(queued.code, queued.stderr).toBe(0);
      expect(JSON.parse(queued.stdout)).toMatchObject({ added: 3, embedded: 3, errors: 0 });
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited(worker)).toEqual({ code: 0, signal: null });
  });
});
