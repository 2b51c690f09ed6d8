/**
 * Where the server's log goes: JSON lines (pino) when stderr is piped or JSON is asked for, and
 * one readable line per entry on a terminal, e.g. `12:04:05 GET /api/search?q=river 200 14 ms`.
 */
import { pino, type Logger } from 'pino';
import type { LogFormat } from './log-format.js';

interface LogEntry {
  level: number;
  time: number;
  msg?: string;
  err?: { message?: string };
}

/** One pino entry as one line: local time, the level when it is a warning or worse, the message, the error's message. */
export function formatLogLine(entry: LogEntry): string {
  const time = new Date(entry.time).toTimeString().slice(0, 8);
  const level = entry.level >= 50 ? ' error' : entry.level >= 40 ? ' warning' : '';
  const message = entry.msg ?? '';
  const error = entry.err?.message && !message.includes(entry.err.message) ? `: ${entry.err.message}` : '';
  return `${time}${level} ${message}${error}\n`;
}

/** A pino destination that rewrites each JSON line it is given as formatLogLine. */
function prettyLines(out: NodeJS.WritableStream): { write(line: string): void } {
  return {
    write(line: string) {
      let entry: LogEntry;
      try {
        entry = JSON.parse(line) as LogEntry;
      } catch {
        out.write(line);
        return;
      }
      out.write(formatLogLine(entry));
    },
  };
}

/** The server's logger; `out` defaults to stderr. */
export function createServerLogger(format: LogFormat, out: NodeJS.WritableStream = process.stderr): Logger {
  if (format === 'json') return pino({ name: 'rsclip' }, out === process.stderr ? pino.destination(2) : out);
  return pino({ name: 'rsclip' }, prettyLines(out));
}
