/**
 * The write lock under a real race: 100 processes asked to lock one index at the same instant,
 * round after round, with the winner sometimes releasing and sometimes killed (kill -9). Each
 * round must have exactly one writer, and a killed writer's lock must be free at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/cli.js';
import { transpileForNode, type Transpiled } from '../fixtures/transpile.js';

const PROCESSES = 100;
const ROUNDS = 30;
/** Every KILL_EVERY-th round the winner is killed with SIGKILL instead of releasing. */
const KILL_EVERY = 3;

let work: string;
let lockModule: Transpiled;
let childScript: string;

/** A child process that locks `dir` when told to and answers one line per command. */
class Contender {
  readonly process: ChildProcess;
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | undefined;

  constructor() {
    this.process = spawn(process.execPath, [childScript], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(line);
      } else this.lines.push(line);
    });
  }

  send(command: string): void {
    this.process.stdin!.write(`${command}\n`);
  }

  next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  kill(): void {
    this.process.kill('SIGKILL');
  }
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-lock-race-'));
  lockModule = transpileForNode(path.join(REPO_ROOT, 'src/store/embedded/write-lock.ts'));
  childScript = path.join(path.dirname(lockModule.entry), 'lock-contender.mjs');
  writeFileSync(
    childScript,
    `
    import { createInterface } from 'node:readline';
    import { WriteLock } from ${JSON.stringify(lockModule.entry)};
    let held;
    createInterface({ input: process.stdin }).on('line', (line) => {
      const [command, dir] = line.split(' ');
      if (command === 'acquire') {
        try {
          held = WriteLock.acquire(dir);
          console.log('got');
        } catch (error) {
          console.log('refused ' + (error.code ?? error.message));
        }
      } else if (command === 'release') {
        held?.release();
        held = undefined;
        console.log('released');
      }
    });
    console.log('ready');
  `,
  );
});

afterAll(() => {
  lockModule?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('WriteLock race between processes', () => {
  it(`gives the lock to exactly one of ${PROCESSES} processes started at once, round after round, and frees it when the writer is killed`, async () => {
    const dir = mkdtempSync(path.join(work, 'index-'));
    const contenders = Array.from({ length: PROCESSES }, () => new Contender());
    try {
      expect(await Promise.all(contenders.map((c) => c.next()))).toEqual(Array(PROCESSES).fill('ready'));
      const winnersPerRound: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of contenders) c.send(`acquire ${dir}`);
        const answers = await Promise.all(contenders.map((c) => c.next()));
        const winners = answers.flatMap((a, i) => (a === 'got' ? [i] : []));
        winnersPerRound.push(winners.length);
        expect(answers.filter((a) => a !== 'got').every((a) => a === 'refused INDEX_LOCKED'), answers.join(',')).toBe(true);
        if (winners.length !== 1) continue;
        const winner = winners[0]!;
        if (round % KILL_EVERY === KILL_EVERY - 1) {
          // the lock dies with its process: the next round must find it free
          const exited = new Promise((resolve) => contenders[winner]!.process.once('exit', resolve));
          contenders[winner]!.kill();
          await exited;
          contenders[winner] = new Contender();
          expect(await contenders[winner]!.next()).toBe('ready');
        } else {
          contenders[winner]!.send('release');
          expect(await contenders[winner]!.next()).toBe('released');
        }
      }
      expect(winnersPerRound).toEqual(Array(ROUNDS).fill(1));
    } finally {
      for (const c of contenders) c.kill();
    }
  }, 180_000);
});
