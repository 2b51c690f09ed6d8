/**
 * Progress of an evaluation on stderr: a bar per phase on a terminal; when piped, one line
 * per phase when it starts to move, every few seconds, and when it ends, each with the count,
 * the rate and the time left.
 */
import cliProgress from 'cli-progress';
import type { EvalProgress } from '../eval/image-vectors.js';
import { formatSeconds } from './index-cmd.js';

const PLAIN_INTERVAL_MS = 5000;
const UNITS: Record<EvalProgress['phase'], string> = { images: 'images/s', texts: 'texts/s', search: 'queries/s' };

export interface EvalProgressDisplay {
  update(progress: EvalProgress): void;
  stop(): void;
}

export interface EvalProgressOptions {
  /** A bar (terminal) or plain lines. Default: whether stderr is a terminal. */
  tty?: boolean;
  write?: (text: string) => void;
  now?: () => number;
}

interface PhaseClock {
  phase: EvalProgress['phase'];
  startedAt: number;
  startDone: number;
}

/**
 * Items per second since the phase started and seconds left at that rate; both undefined while
 * unknown: no time has passed, or nothing was done since the phase's first report (a phase whose
 * only report is its end has no rate, rather than 0).
 */
function rateAndEta(clock: PhaseClock, p: EvalProgress, now: number): { rate: number | undefined; eta: number | undefined } {
  const elapsed = (now - clock.startedAt) / 1000;
  const rate = elapsed > 0 && p.done > clock.startDone ? (p.done - clock.startDone) / elapsed : undefined;
  return { rate, eta: rate !== undefined && rate > 0 ? (p.total - p.done) / rate : undefined };
}

const rateText = (p: EvalProgress, rate: number | undefined): string => (rate === undefined ? `? ${UNITS[p.phase]}` : `${rate.toFixed(1)} ${UNITS[p.phase]}`);

export function formatProgressLine(p: EvalProgress, rate: number | undefined, eta: number | undefined): string {
  const share = p.total > 0 ? ` (${Math.floor((100 * p.done) / p.total)}%)` : '';
  const finished = p.done >= p.total;
  // a finished phase whose rate was never measured says only its count
  if (finished && rate === undefined) return `${p.phase}: ${p.done}/${p.total}${share}`;
  return `${p.phase}: ${p.done}/${p.total}${share}, ${rateText(p, rate)}, ETA ${finished ? '0s' : formatSeconds(eta)}`;
}

export function evalProgressDisplay(options: EvalProgressOptions = {}): EvalProgressDisplay {
  const now = options.now ?? Date.now;
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const tty = options.tty ?? Boolean(process.stderr.isTTY);
  let clock: PhaseClock | undefined;
  let lastLine = 0;
  let bar: cliProgress.SingleBar | undefined;

  const startPhase = (p: EvalProgress, at: number): PhaseClock => {
    bar?.stop();
    bar = undefined;
    // a phase that reports its start (done 0) is timed from then; otherwise from its first report
    return { phase: p.phase, startedAt: at, startDone: p.done };
  };

  return {
    update(p) {
      const at = now();
      if (!clock || clock.phase !== p.phase) {
        clock = startPhase(p, at);
        lastLine = 0;
      }
      const { rate, eta } = rateAndEta(clock, p, at);
      if (tty) {
        const payload = { phase: p.phase, rate: rateText(p, rate), remaining: formatSeconds(eta) };
        if (!bar) {
          bar = new cliProgress.SingleBar({ stream: process.stderr, format: '{phase} |{bar}| {value}/{total} | {rate} | ETA {remaining}', hideCursor: true }, cliProgress.Presets.shades_classic);
          bar.start(p.total, p.done, payload);
        }
        bar.setTotal(p.total);
        bar.update(p.done, payload);
        return;
      }
      const finished = p.done >= p.total;
      if (p.total === 0) return; // an empty phase (every image from the index): nothing to show
      if (p.done === clock.startDone && !finished) return; // nothing to measure yet
      if (!finished && lastLine > 0 && at - lastLine < PLAIN_INTERVAL_MS) return;
      lastLine = at;
      write(`${formatProgressLine(p, rate, eta)}\n`);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
