import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { formatPredictions, parsePredictions, scoreParsedPredictions, scorePredictions } from '../../src/eval/predictions.js';
import { runCli } from '../fixtures/cli.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-score-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CLASSES = ['airport', 'bareland', 'beach', 'bridge', 'center', 'church', 'desert', 'farmland', 'forest', 'park', 'port'];

/** A line with `label` at 0-based `position` of the ten predictions (or absent when position is null). */
function line(file: string, label: string, position: number | null): string {
  const others = CLASSES.filter((c) => c !== label);
  const order = position === null ? others.slice(0, 10) : [...others.slice(0, position), label, ...others.slice(position, 9)];
  return [file, label, ...order.flatMap((c, i) => [c, (0.5 / (i + 1)).toFixed(5)])].join('\t');
}

// positions 0, 2, 4, 9, absent -> score@1 1/5, @3 2/5, @5 3/5, @10 4/5
const HAND_MADE = [
  line('airport_1.jpg', 'airport', 0),
  line('beach_2.jpg', 'beach', 2),
  line('bridge_3.jpg', 'bridge', 4),
  line('church_4.jpg', 'church', 9),
  line('park_5.jpg', 'park', null),
];
const EXPECTED = { 1: 0.2, 3: 0.4, 5: 0.6, 10: 0.8 };

describe('predictions files (clip-rsicd result-file format)', () => {
  it('scores a hand-made file: share of images whose label is among the first k predictions', async () => {
    const file = path.join(work, 'hand.tsv');
    writeFileSync(file, `${HAND_MADE.join('\n')}\n`);
    const result = await scorePredictions(file);
    expect(result).toMatchObject({ images: 5, minPredictionsPerLine: 10, skippedHeader: false });
    expect(result.scores[1]).toBeCloseTo(EXPECTED[1]);
    expect(result.scores[3]).toBeCloseTo(EXPECTED[3]);
    expect(result.scores[5]).toBeCloseTo(EXPECTED[5]);
    expect(result.scores[10]).toBeCloseTo(EXPECTED[10]);
  });

  it('tolerates a header line, CRLF, blank lines and trailing tabs', async () => {
    const file = path.join(work, 'quirky.tsv');
    const header = ['filename', 'label', ...Array.from({ length: 10 }, (_, i) => [`class${i + 1}`, `prob${i + 1}`]).flat()].join('\t');
    writeFileSync(file, [header, ...HAND_MADE.map((l) => `${l}\t`), '', ''].join('\r\n'));
    const result = await scorePredictions(file);
    expect(result).toMatchObject({ images: 5, skippedHeader: true });
    expect(result.scores[10]).toBeCloseTo(EXPECTED[10]);
  });

  it('keeps spaces in names: class folders `park` and `park ` are two classes', () => {
    const text = ['a.jpg\tpark \tpark\t0.60000\tpark \t0.40000', 'b.jpg\tpark\tpark\t0.70000\tpark \t0.30000', ' c.jpg\tpark\tpark\t0.70000\tpark \t0.30000'].join('\n');
    const { predictions } = parsePredictions(text, 'spaces.tsv');
    expect(predictions.map((p) => [p.fileName, p.label, p.predictions[0]!.className])).toEqual([
      ['a.jpg', 'park ', 'park'],
      ['b.jpg', 'park', 'park'],
      [' c.jpg', 'park', 'park'],
    ]);
    expect(scoreParsedPredictions(predictions, [1])).toEqual({ 1: 2 / 3 });
  });

  it('skips a first line only when it names the columns; a malformed first line is an error as anywhere else', () => {
    const data = HAND_MADE.join('\n');
    expect(() => parsePredictions(`a.jpg\tairport\n${data}`, 'short.tsv')).toThrow(/short\.tsv:1: expected filename<TAB>label then class<TAB>probability pairs, got 2 column\(s\)/);
    expect(() => parsePredictions(`${HAND_MADE[0]}\na.jpg\tairport\n`, 'short.tsv')).toThrow(/short\.tsv:2:/);
    expect(() => parsePredictions(`a.jpg\tairport\tbeach\tnot-a-number\n${data}`, 'bad.tsv')).toThrow(/bad\.tsv:1:/);
    expect(parsePredictions(`image\tlabel\ttop1\tp1\n${data}`, 'named.tsv')).toMatchObject({ skippedHeader: true });
  });

  it('round-trips what it writes', () => {
    const rows = [{ fileName: 'a_1.jpg', label: 'a', predictions: [{ className: 'b', probability: 0.6 }, { className: 'a', probability: 0.4 }] }];
    const text = formatPredictions(rows);
    expect(text).toBe('a_1.jpg\ta\tb\t0.60000\ta\t0.40000\n');
    expect(parsePredictions(text, 'x').predictions).toEqual(rows);
  });

  it('escapes a tab, line break or backslash in a name as \\t \\n \\r \\\\, so the columns stay put, and reads it back', async () => {
    const rows = [
      {
        fileName: 'dense\tresidential/a\nb.jpg',
        label: 'dense\tresidential',
        predictions: [
          { className: 'river\r\nbank', probability: 0.5 },
          { className: 'dense\tresidential', probability: 0.3 },
          { className: 'C:\\new\\t', probability: 0.2 },
        ],
      },
    ];
    const text = formatPredictions(rows);
    expect(text).toBe('dense\\tresidential/a\\nb.jpg\tdense\\tresidential\triver\\r\\nbank\t0.50000\tdense\\tresidential\t0.30000\tC:\\\\new\\\\t\t0.20000\n');
    expect(text.slice(0, -1).split('\t')).toHaveLength(8);
    expect(parsePredictions(text, 'x').predictions).toEqual(rows);
    const file = path.join(work, 'escaped.tsv');
    writeFileSync(file, text);
    expect((await scorePredictions(file)).scores).toEqual({ 1: 0, 3: 1, 5: 1, 10: 1 });
    // a backslash before anything else, as in a file written elsewhere, is kept
    expect(parsePredictions('C:\\data\\x.jpg\ta\\b\ta\\b\t1.0\n', 'win.tsv').predictions[0]).toMatchObject({ fileName: 'C:\\data\\x.jpg', label: 'a\\b' });
  });

  it('refuses a file with no predictions or a malformed line', () => {
    expect(() => parsePredictions('\n\n', 'empty.tsv')).toThrow(RsclipError);
    expect(() => parsePredictions(`${HAND_MADE[0]}\nfoo.jpg\tfoo\tbar\n`, 'bad.tsv')).toThrow(/bad.tsv:2/);
    // a first line with one bad probability is a malformed line, not a header to skip
    expect(() => parsePredictions('a_1.jpg\ta\tb\t0.6\ta\tx\n', 'first.tsv')).toThrow(/first.tsv:1/);
    // nor is one whose probabilities all are, such as decimal commas, or one with empty probabilities
    expect(() => parsePredictions('a_1.jpg\ta\tb\t0,6\ta\t0,4\nb_1.jpg\tb\tb\t0.8\ta\t0.2\n', 'commas.tsv')).toThrow(/commas.tsv:1/);
    expect(() => parsePredictions('a_1.jpg\ta\tb\t\ta\t\nb_1.jpg\tb\tb\t0.8\ta\t0.2\n', 'empty.tsv')).toThrow(/empty.tsv:1/);
  });

  it('rsclip eval score prints the scores, and --json the same numbers', async () => {
    const file = path.join(work, 'cli.tsv');
    writeFileSync(file, `${HAND_MADE.join('\n')}\n`);
    const plain = await runCli(['eval', 'score', file]);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('5 images');
    expect(plain.stdout).toContain('score@1 0.200  score@3 0.400  score@5 0.600  score@10 0.800');
    const json = await runCli(['eval', 'score', file, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ images: 5, scores: { 1: 0.2, 3: 0.4, 5: 0.6, 10: 0.8 } });
    const headed = path.join(work, 'headed.tsv');
    writeFileSync(headed, `filename\tlabel\tclass1\tprob1\n${HAND_MADE.join('\n')}\n`);
    const skipped = await runCli(['eval', 'score', headed]);
    expect(skipped.stdout).toContain('5 images; the first line names the columns (a header) and was not scored');
    const missing = await runCli(['eval', 'score', path.join(work, 'nope.tsv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^rsclip: cannot read predictions file .*nope\.tsv/);
  });
});
