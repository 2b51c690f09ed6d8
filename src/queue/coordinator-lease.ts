/**
 * One coordinator per queue: a live coordinator (`rsclip index --queue`) holds a lease on its
 * queue in Redis, a key set only if absent (SET NX) with an expiry, renewed while it runs and
 * deleted when it closes. Its value names the holder (host, pid, index, start time). Workers take
 * no lease.
 *
 * Another coordinator that finds the lease held:
 * - held by a live process on this machine (same host name, boot and pid namespace; on Linux the
 *   pid's start time is checked too, so a reused pid is not taken for the holder): refused at once;
 * - held by a process of this machine that no longer runs (killed with SIGKILL, or a pid that now
 *   belongs to another process): taken over at once, so a killed coordinator restarts at once;
 * - held from another machine, whose processes cannot be seen from here: it watches the lease.
 *   A live holder renews it every LEASE_MS / 6 (5 s): as soon as a renewal is seen it is refused;
 *   a lease nobody renews lapses LEASE_MS (30 s) after its last renewal and is taken then (the
 *   wait is said on one line first). So a coordinator killed on one machine restarts on another
 *   within 30 s, and a second live one is refused within about 5 s.
 *
 * A holder that finds its lease gone at a renewal (a Redis restarted without persistence; Redis
 * unreachable past the lease's expiry) takes it again; one that finds another coordinator's
 * lease there (it could not renew for LEASE_MS: Redis away, the process stalled) has lost the
 * queue: its run stops, what it committed kept.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { RsclipError } from '../errors.js';
import { processAlive } from '../process-alive.js';

/** How long a lease lives without a renewal. */
export const DEFAULT_LEASE_MS = 30_000;
/** Renewals per lease lifetime: a holder may miss five before its lease lapses. */
const RENEWALS_PER_LEASE = 6;

/** What the lease's value says about its holder (JSON). */
export interface LeaseHolder {
  /** The coordinator run's id (QueueEmbedder.run): the lease's token. */
  run: string;
  host: string;
  pid: number;
  /** The index the coordinator writes, as shown to users. */
  index?: string;
  /** ISO time the coordinator took the lease. */
  since: string;
  /** Linux: the boot's id (/proc/sys/kernel/random/boot_id): the same host name on another boot or machine is another machine. */
  boot?: string;
  /** Linux: the pid namespace (/proc/self/ns/pid): containers sharing a host name see other pids. */
  pidNamespace?: string;
  /** Linux: the process's start time (clock ticks since boot): a reused pid is another process. */
  processStart?: string;
}

export interface LeaseOptions {
  /** The queue's name (the lease's key is made of it). */
  queue: string;
  /** host:port/db of the Redis, for messages. */
  where: string;
  run: string;
  index?: string;
  leaseMs?: number;
  /** A line to show the user: the wait for another machine's lease to lapse. */
  onNotice?: (line: string) => void;
  /** The lease was taken by another coordinator while held: the run must stop. */
  onLost: (error: RsclipError) => void;
}

/** The Redis key of a queue's coordinator lease (beside BullMQ's `bull:NAME:*` keys). */
export function coordinatorLeaseKey(queue: string): string {
  return `rsclip:coordinator:${queue}`;
}

/** Runs (lease tokens) that this process holds now: a holder with this pid is this process only if it is one of them. */
const heldHere = new Set<string>();

// the value is ours (1: renewed), absent (2: set again: Redis lost it), or another holder's (returned)
const RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return v`;
// replaces a given (stale) value only
const TAKE_OVER = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
// the value and its remaining life in one step
const READ = `return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}`;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function readLink(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

/** /proc/PID/stat's state and start time; undefined without /proc (macOS, Windows) or where it hides the process (hidepid). */
function procStat(pid: number): { state: string; start: string } | undefined {
  const text = readText(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // the command name (field 2, in parentheses) may hold spaces and parentheses: fields count from the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', start: fields[19] ?? '' };
}

function thisMachine(): Pick<LeaseHolder, 'host' | 'boot' | 'pidNamespace'> {
  const boot = readText('/proc/sys/kernel/random/boot_id');
  const pidNamespace = readLink('/proc/self/ns/pid');
  return { host: hostname(), ...(boot ? { boot } : {}), ...(pidNamespace ? { pidNamespace } : {}) };
}

/** The holder runs where this process can see its pid (what neither side records is not compared). */
function sameMachine(holder: LeaseHolder): boolean {
  const here = thisMachine();
  if (holder.host !== here.host) return false;
  if (holder.boot !== undefined && here.boot !== undefined && holder.boot !== here.boot) return false;
  return holder.pidNamespace === undefined || here.pidNamespace === undefined || holder.pidNamespace === here.pidNamespace;
}

/** A holder of this machine still runs. */
function holderRuns(holder: LeaseHolder): boolean {
  if (holder.pid === process.pid) return heldHere.has(holder.run);
  if (!processAlive(holder.pid)) return false;
  const stat = procStat(holder.pid);
  if (!stat) return true;
  // a zombie was killed (its parent has not reaped it); another start time is another process under a reused pid
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return holder.processStart === undefined || holder.processStart === stat.start;
}

function parseHolder(value: string): LeaseHolder | undefined {
  try {
    const holder = JSON.parse(value) as Partial<LeaseHolder>;
    if (typeof holder.run === 'string' && typeof holder.host === 'string' && typeof holder.pid === 'number' && typeof holder.since === 'string') return holder as LeaseHolder;
  } catch {
    // not ours: said as it is
  }
  return undefined;
}

/** "process 4121 on host gpu1 (this host), indexing /data/index since 2025-…" */
export function describeHolder(value: string): string {
  const holder = parseHolder(value);
  if (!holder) return `something else (the key holds ${JSON.stringify(value.slice(0, 80))})`;
  const here = holder.host === hostname() ? ' (this host)' : '';
  return `process ${holder.pid} on host ${holder.host}${here}${holder.index ? `, indexing ${holder.index}` : ''}, since ${holder.since}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class CoordinatorLease {
  private readonly timer: NodeJS.Timeout;
  private renewing = false;
  private done = false;
  /** Set once another coordinator took the lease. */
  lost: RsclipError | undefined;

  private constructor(
    private readonly client: Redis,
    readonly key: string,
    /** This lease's value (its holder, as JSON). */
    readonly value: string,
    private readonly leaseMs: number,
    private readonly options: LeaseOptions,
  ) {
    heldHere.add(options.run);
    this.timer = setInterval(() => void this.renew(), leaseMs / RENEWALS_PER_LEASE);
    this.timer.unref();
  }

  /** Takes the queue's lease, waiting for another machine's to lapse; throws QUEUE_FAILED naming the holder of a live one. */
  static async acquire(client: Redis, options: LeaseOptions): Promise<CoordinatorLease> {
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const key = coordinatorLeaseKey(options.queue);
    const stat = procStat(process.pid);
    const holder: LeaseHolder = {
      run: options.run,
      ...thisMachine(),
      pid: process.pid,
      ...(options.index ? { index: options.index } : {}),
      since: new Date().toISOString(),
      ...(stat ? { processStart: stat.start } : {}),
    };
    const value = JSON.stringify(holder);
    const poll = Math.min(500, leaseMs / (4 * RENEWALS_PER_LEASE));
    // the other machine's lease being watched, and its remaining life when last read
    let watched: { value: string; pttl: number } | undefined;
    for (;;) {
      if ((await client.set(key, value, 'PX', leaseMs, 'NX')) === 'OK') break;
      const [other, pttl] = (await client.eval(READ, 1, key)) as [string | null, number];
      if (other === null) continue; // released (or lapsed) meanwhile
      const otherHolder = parseHolder(other);
      if (otherHolder && sameMachine(otherHolder)) {
        if (holderRuns(otherHolder)) throw CoordinatorLease.refusal(options, other, 'it is running');
        // a coordinator of this machine that no longer runs: its lease is taken over at once
        if ((await client.eval(TAKE_OVER, 1, key, other, value, leaseMs)) === 1) break;
        continue;
      }
      if (pttl < 0) throw CoordinatorLease.refusal(options, other, 'its lease has no expiry', `delete it if no coordinator runs: redis-cli -n <db> DEL ${key}`);
      if (watched?.value === other && pttl > watched.pttl) throw CoordinatorLease.refusal(options, other, 'it renewed its lease while this one waited');
      if (watched?.value !== other) {
        const idle = Math.max(0, Math.round((leaseMs - pttl) / 1000));
        options.onNotice?.(
          `rsclip: queue ${options.queue} on Redis at ${options.where} is leased by the coordinator ${describeHolder(other)}, not renewed for ${idle}s: ` +
            `waiting up to ${Math.ceil(pttl / 1000)}s for the lease to lapse (a running coordinator renews it every ${Math.round(leaseMs / RENEWALS_PER_LEASE / 1000)}s, and is refused as soon as it does)`,
        );
      }
      watched = { value: other, pttl };
      await sleep(Math.min(poll, Math.max(1, pttl)));
    }
    if (watched) options.onNotice?.(`rsclip: the lease lapsed: this run coordinates queue ${options.queue} now`);
    return new CoordinatorLease(client, key, value, leaseMs, options);
  }

  private static refusal(options: LeaseOptions, other: string, why: string, hint?: string): RsclipError {
    return new RsclipError('QUEUE_FAILED', `queue ${options.queue} on Redis at ${options.where} already has a coordinator: ${describeHolder(other)} (${why})`, {
      hint:
        hint ??
        'one coordinator per queue (it would take the other\'s waiting jobs): wait for that run to finish, or stop it; to index another archive at the same time, give it and its workers another Redis database (the number at the end of the --queue URL, e.g. redis://host:6379/1)',
    });
  }

  /** Extends the lease (sets it again where Redis lost it); another holder's lease there means the queue is lost. */
  private async renew(): Promise<void> {
    if (this.renewing || this.done) return;
    this.renewing = true;
    try {
      const answer = (await this.client.eval(RENEW, 1, this.key, this.value, this.leaseMs)) as number | string;
      if (typeof answer === 'string' && !this.done) this.lose(answer);
    } catch {
      // Redis away: the run's own connection watch deals with it; the next renewal tries again
    } finally {
      this.renewing = false;
    }
  }

  private lose(other: string): void {
    this.stop();
    this.lost = new RsclipError('QUEUE_FAILED', `this coordinator lost queue ${this.options.queue} on Redis at ${this.options.where} to the coordinator ${describeHolder(other)}`, {
      hint: `its lease lapsed: it could not be renewed for ${Math.round(this.leaseMs / 1000)}s (Redis unreachable, or this process stalled), and another coordinator took the queue. What is committed is kept: run the same command again once that one has finished`,
    });
    this.options.onLost(this.lost);
  }

  private stop(): void {
    this.done = true;
    clearInterval(this.timer);
    heldHere.delete(this.options.run);
  }

  /** Gives the lease back (where it is still this one's): the next coordinator starts at once. */
  async release(): Promise<void> {
    const held = !this.done;
    this.stop();
    if (held) await this.client.eval(RELEASE, 1, this.key, this.value);
  }

  /** Stops renewing without a word to Redis (it is not answering): the lease lapses by itself. */
  abandon(): void {
    this.stop();
  }
}
