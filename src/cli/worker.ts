/** `rsclip worker`: embeds the windows a coordinator (`rsclip index --queue`) puts on a Redis queue, until stopped. */
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { RsclipError } from '../errors.js';
import { onnxSpinningFor, threadsPerSession } from '../indexer/indexing-threads.js';
import { openClip } from '../model/encoder.js';
import { checkCanEmbed, parsePathMapping, startEmbedWorker, type PathMapping } from '../queue/embed-worker.js';
import { withQueuePassword } from '../queue/connection.js';
import { hidePassword } from '../url-password.js';
import { quitAtOnce } from './interrupt.js';
import { addModelOptions, collect, givenModel, optionParser, positiveInt, type ModelOptions } from './options.js';
import { checkQueueUrl } from './queue-url-option.js';

interface WorkerCommandOptions extends ModelOptions {
  queue: string;
  concurrency?: number;
  modelSessions?: number;
  pathMap?: string[];
  lockTimeout?: number;
  json?: boolean;
}

const REPORT_INTERVAL_MS = 10_000;

/**
 * The worker's line at the end of each interval, with the rate of that interval (a worker runs
 * for days: its lifetime's average says little); an idle worker says so once, not every interval.
 */
export class WorkerReport {
  private reported = 0;
  private idleSaid = false;

  constructor(private readonly intervalSeconds: number) {}

  next(jobs: number, embedded: number): string | undefined {
    const idle = embedded === this.reported;
    if (idle && this.idleSaid) return undefined;
    const rate = (embedded - this.reported) / this.intervalSeconds;
    this.idleSaid = idle;
    this.reported = embedded;
    return `${jobs} jobs, ${embedded} windows embedded, ${idle ? 'idle' : `${rate.toFixed(1)}/s`} over the last ${this.intervalSeconds}s`;
  }
}

/**
 * The worker's line for a refused job. A worker set up wrongly (another model, an unseen archive
 * folder) refuses every job of a run for one reason: it is said in full once, not for each job.
 */
export class RefusalReport {
  private lastReason: string | undefined;

  line(job: string, reason = 'no reason given'): string {
    const repeated = reason === this.lastReason;
    this.lastReason = reason;
    return `refused job ${job}: ${repeated ? 'the same reason' : reason}`;
  }
}

/** Seconds between the worker's lines while it waits for Redis to come up. */
const WAITING_REPORT_SECONDS = 60;

/**
 * The worker's lines while Redis is not up as it starts: the first failed attempt, then one a
 * minute (attempts come every 2 s), each with how long it has waited.
 */
export class RedisWaitReport {
  private started: number | undefined;
  private lastSaid: number | undefined;

  constructor(private readonly everySeconds = WAITING_REPORT_SECONDS) {}

  /** `nowMs`: a monotonic clock (performance.now()). */
  line(where: string, reason: string, nowMs: number): string | undefined {
    this.started ??= nowMs;
    if (this.lastSaid !== undefined && nowMs - this.lastSaid < this.everySeconds * 1000) return undefined;
    this.lastSaid = nowMs;
    const waited = Math.round((nowMs - this.started) / 1000);
    return waited === 0
      ? `waiting for Redis at ${where} (${reason}); trying again every 2s until it answers (Ctrl-C to quit)`
      : `still waiting for Redis at ${where} after ${waited}s (${reason})`;
  }
}

/** `--path-map FROM=TO`, checked as the worker reads it (parsePathMapping), and collected. */
const pathMapOption = optionParser((text: string, previous: string[] | undefined): string[] => {
  parsePathMapping(text);
  return collect(text, previous);
});

export function registerWorkerCommand(program: Command): void {
  const command = program
    .command('worker')
    .description('embed images for `rsclip index --queue` coordinators: reads the files they name (shared file system), returns vectors, until Ctrl-C')
    .requiredOption('--queue <url>', 'the Redis the coordinator uses, e.g. redis://localhost:6379/0 (a Redis restart is waited out); rediss:// for TLS, with ?sslrootcert=&sslcert=&sslkey= PEM files where needed; a password not in the URL comes from RSCLIP_QUEUE_PASSWORD');
  addModelOptions(command, { model: 'config "model"; the index\'s model, jobs for another are refused', variant: 'config "variant", else fp32', threads: 'number of cores' })
    .option('--concurrency <n>', 'jobs processed at once (default: two per model session, one read and decoded while the other runs on the model)', positiveInt)
    .option('--model-sessions <n>', 'model sessions embedding jobs side by side, sharing the threads (default 1; each holds its own weights and working memory)', positiveInt)
    .option('--path-map <from=to>', 'read the coordinator\'s paths under FROM at TO on this machine (repeatable)', pathMapOption)
    .option('--lock-timeout <seconds>', 'seconds after which the job of a worker that stopped answering goes to another (default 30)', positiveInt)
    .option('--json', 'log one JSON line per job instead of a rate every few seconds')
    .hook('preAction', checkQueueUrl)
    .action(async (opts: WorkerCommandOptions) => {
      const { config } = loadConfig();
      const modelDir = givenModel(opts.model, config);
      if (!modelDir) throw new RsclipError('BAD_INPUT', 'no model given: expected --model <dir> or "model" in rsclip.config.json', { hint: 'use the model the index was built with (`rsclip model info` shows it)' });
      const pathMap: PathMapping[] = (opts.pathMap ?? []).map(parsePathMapping);
      const threads = opts.threads ?? config.threads;
      const sessions = opts.modelSessions ?? 1;
      // sessions share the threads given (every core by default) instead of each taking them all
      const sessionThreads = sessions > 1 ? threadsPerSession(threads ?? availableParallelism(), sessions) : threads;
      const encoder = await openClip(modelDir, {
        variant: opts.variant ?? config.variant ?? 'fp32',
        spinning: onnxSpinningFor(sessionThreads === undefined ? undefined : sessionThreads * sessions),
        visionSessions: sessions,
        ...(sessionThreads === undefined ? {} : { threads: sessionThreads }),
      });
      await checkCanEmbed(encoder).catch(async (error: unknown) => {
        await encoder.close();
        throw error;
      });
      let embedded = 0;
      let jobs = 0;
      let outage: string | undefined;
      let lastLostJob: string | undefined;
      const refusals = new RefusalReport();
      const waiting = new RedisWaitReport();
      const worker = await startEmbedWorker({
        url: withQueuePassword(opts.queue, config.queuePassword),
        encoder,
        pathMap,
        ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
        ...(opts.lockTimeout ? { lockSeconds: opts.lockTimeout } : {}),
        onJob(event) {
          if (event.phase === 'done') {
            jobs++;
            embedded += event.embedded;
          }
          if (opts.json) process.stderr.write(`${JSON.stringify({ ...event, windows: event.windows.length })}\n`);
          else if (event.phase === 'refused') process.stderr.write(`rsclip worker: ${refusals.line(event.job, event.error)}\n`);
        },
        onError(error) {
          // a Redis that is down fails every reconnect attempt (one every 2 s at most): said once per outage
          if (error.message === outage) return;
          outage = error.message;
          process.stderr.write(`rsclip worker: ${error.message} (retrying until Redis answers)\n`);
        },
        onLostJob(job, reason) {
          // BullMQ reports a lost job at each step it fails (finishing it, then retrying it): said once
          if (job === lastLostJob) return;
          lastLostJob = job;
          process.stderr.write(`rsclip worker: job ${job} was no longer this worker's when it finished (${reason}): Redis lost it in a restart, or its lock lapsed and another worker took it; it is embedded again\n`);
        },
        onWaitingForRedis(where, reason) {
          const line = waiting.line(where, reason, performance.now());
          if (line) process.stderr.write(`rsclip worker: ${line}\n`);
        },
        onReconnect() {
          if (outage === undefined) return;
          outage = undefined;
          process.stderr.write('rsclip worker: Redis answers again\n');
        },
      }).catch(async (error: unknown) => {
        await encoder.close();
        throw error;
      });
      const sessionsSaid = (encoder.visionSessions ?? 1) > 1 ? `, ${encoder.visionSessions} sessions` : '';
      process.stderr.write(`rsclip worker ${worker.id}: model ${encoder.info.id} (${encoder.info.fingerprint.slice(0, 12)}${sessionsSaid}), waiting for jobs on ${hidePassword(opts.queue)}\n`);
      const report = new WorkerReport(REPORT_INTERVAL_MS / 1000);
      const timer = setInterval(() => {
        const line = opts.json ? undefined : report.next(jobs, embedded);
        if (line) process.stderr.write(`rsclip worker ${worker.id}: ${line}\n`);
      }, REPORT_INTERVAL_MS);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.stderr.write(`rsclip worker ${worker.id}: finishing the jobs in hand (Ctrl-C again to quit at once)\n`);
          process.once('SIGINT', () => quitAtOnce('SIGINT'));
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      clearInterval(timer);
      await worker.close();
      await encoder.close();
    });
}
