/**
 * A bad option value is a usage error wherever it is given: commander's `error: ...` line (and its
 * --help hint) on stderr and exit status 2,
 * as commander's own usage errors, before anything is opened or loaded (a model, an index).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';

const NOWHERE = '/nonexistent/rsclip-index';

describe('bad option values', () => {
  it.each([
    [['search', 'x', '--index', NOWHERE, '-k', '0'], /-k, --k <n>' argument '0' is invalid\. expected an integer from 1 to 1,000/],
    [['search', 'x', '--index', NOWHERE, '-k', '1001'], /expected an integer from 1 to 1,000, got "1001"/],
    [['search', 'x', '--index', NOWHERE, '--format', 'csv'], /expected text, json or geojson, got "csv"/],
    [['search', 'x', '--index', NOWHERE, '--format', 'text', '--json'], /option '--json' cannot be used with option '--format <format>'/],
    [['export', '--index', NOWHERE, '--format', 'xml'], /unknown export format "xml" \(use one of geoparquet, parquet, geojson, csv\)/],
    [['export', '--index', NOWHERE, '--format', 'csv', '--query', 'x', '-k', '5000'], /expected an integer from 1 to 1,000/],
    [['serve', '--index', NOWHERE, '--port', '-1'], /expected a port from 0 to 65535/],
    [['serve', '--index', NOWHERE, '--port', '65536'], /expected a port from 0 to 65535 \(0: a free one\), got "65536"/],
    [['up', NOWHERE, '--index', NOWHERE, '--port', '99999'], /expected a port from 0 to 65535/],
    // only plain decimal integers: Number() would read 1e3, 0x10 and " 5"
    [['search', 'x', '--index', NOWHERE, '-k', '1e3'], /'-k, --k <n>' argument '1e3' is invalid\. expected an integer from 1 to 1,000, got "1e3"/],
    [['search', 'x', '--index', NOWHERE, '-k', '0x10'], /expected an integer from 1 to 1,000, got "0x10"/],
    [['search', 'x', '--index', NOWHERE, '-k', '2.0'], /expected an integer from 1 to 1,000, got "2\.0"/],
    [['serve', '--index', NOWHERE, '--port', '1e3'], /expected a port from 0 to 65535 \(0: a free one\), got "1e3"/],
    [['search', 'x', '--index', NOWHERE, '--threads', '0x4'], /'--threads <n>' argument '0x4' is invalid\. expected a positive integer/],
    [['search', 'x', '--index', NOWHERE, '--offset', '1e2'], /'--offset <n>' argument '1e2' is invalid/],
    [['eval', 'ann', '--index', NOWHERE, '--ef', '10,1e2'], /expected comma-separated positive integers, e\.g\. 10,20,50, got "10,1e2"/],
    // ranges the library checks only after the index is opened
    [['locate', 'scene.tif', 'river', '--index', NOWHERE, '--top', '1001'], /'--top <n>' argument '1001' is invalid\. expected an integer from 1 to 1,000, got "1001"/],
    [['eval', 'labels', '--index', NOWHERE, '--labels', 'x.tsv', '--resamples', '50'], /'--resamples <n>' argument '50' is invalid\. Expected an integer in \[100, 1000000\] for resamples/],
    [['eval', 'retrieval', '--images', NOWHERE, '--captions', 'c.json', '--resamples', '2000000'], /'--resamples <n>' argument '2000000' is invalid/],
    [['eval', 'rsicd', '--resamples', '1e3'], /expected an integer from 100 to 1,000,000, got "1e3"/],
    [['search', 'x', '--index', NOWHERE, '--offset', '5001'], /expected an integer from 0 to 5,000, got "5001"/],
    [['search', 'x', '--index', NOWHERE, '--offset', '4990', '-k', '20'], /--offset \+ -k must be at most 5,000, got 4990 \+ 20/],
    // filter options, checked as the filter keys they stand for
    [['search', 'x', '--index', NOWHERE, '--near', '12.5,41.9', '--radius', '5parsecs'], /'--radius <distance>' argument '5parsecs' is invalid\. invalid --radius 5parsecs: cannot read the distance "5parsecs"/],
    [['search', 'x', '--index', NOWHERE, '--since', 'yesterday'], /'--since <date>' argument 'yesterday' is invalid\. invalid --since yesterday: expected an ISO 8601 date/],
    [['search', 'x', '--index', NOWHERE, '--until', '2020-13-01'], /'--until <date>' argument '2020-13-01' is invalid/],
    [['search', 'x', '--index', NOWHERE, '--bbox', '1,2,3'], /'--bbox <W,S,E,N>' argument '1,2,3' is invalid\. invalid --bbox 1,2,3: expected 4 numbers/],
    [['search', 'x', '--index', NOWHERE, '--near', '500,1'], /'--near <LON,LAT>' argument '500,1' is invalid\..*longitude 500 is outside -180\.\.180/],
    [['search', 'x', '--index', NOWHERE, '--filter', 'year=abc..3'], /'--filter <key=value>' argument 'year=abc\.\.3' is invalid\. invalid filter "year=abc\.\.3"/],
    [['export', '--index', NOWHERE, '--format', 'csv', '--since', 'soon'], /'--since <date>' argument 'soon' is invalid/],
    [['search', 'x', '--index', NOWHERE, '--radius', '5km'], /^error: a radius needs a point: give near=LON,LAT with it/],
    [['search', 'x', '--index', NOWHERE, '--since', '2021-01-01', '--until', '2020-01-01'], /^error: invalid filter "until=2020-01-01": until \(2020-01-01T23:59:59\.999Z\) is before since/],
    // values other commands check only once a model or index is open
    [['index', NOWHERE, '--index', NOWHERE, '--queue', 'redis://localhost/abc'], /^error: option '--queue <url>' is invalid: the Redis database in "redis:\/\/localhost\/abc" must be a number/],
    [['index', NOWHERE, '--index', NOWHERE, '--queue-depth', '4'], /^error: --queue-depth needs --queue/],
    [['worker', '--queue', 'http://localhost', '--model', NOWHERE], /^error: option '--queue <url>' is invalid: expected a redis:\/\/ or rediss:\/\/ URL/],
    [['worker', '--queue', 'redis://localhost', '--model', NOWHERE, '--path-map', 'nowhere'], /'--path-map <from=to>' argument 'nowhere' is invalid\. expected --path-map FROM=TO/],
    [['model', 'fetch', 'owner/name', '--revision', 'a..b'], /'--revision <revision>' argument 'a\.\.b' is invalid\. Expected a branch, tag or commit/],
  ])('rsclip %j exits 2 with commander\'s error line', async (args, message) => {
    const result = await runCli(args);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^error: /);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(result.code).toBe(2);
  });

  it('says the largest -k in the help', async () => {
    for (const command of ['search', 'export']) expect((await runCli([command, '--help'])).stdout).toMatch(/-k, --k <n> +\S.*1 to 1,000/);
  });

  it('says the ranges of --top, --resamples and --offset in the help', async () => {
    expect((await runCli(['locate', '--help'])).stdout).toMatch(/--top <n> +best boxes to print, 1 to 1,000/);
    for (const command of ['labels', 'retrieval', 'rsicd']) expect((await runCli(['eval', command, '--help'])).stdout.replace(/\s+/g, ' ')).toMatch(/--resamples <n> bootstrap resamples for the 95 % intervals, 100 to 1,000,000/);
    expect((await runCli(['search', '--help'])).stdout.replace(/\s+/g, ' ')).toMatch(/--offset <n> results to skip \(paging\); offset \+ k at most 5,000/);
  });

  it('still takes plain values, the password of a --queue URL never quoted', async () => {
    const result = await runCli(['worker', '--queue', 'http://user:s3cret@localhost', '--model', NOWHERE]);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('s3cret');
    const ok = await runCli(['search', 'x', '--index', NOWHERE, '-k', '010', '--offset', '4980', '--near', '12.5,41.9', '--radius', '5km', '--since', '2020-01-01', '--filter', 'folder=a']);
    expect(ok.stderr).toMatch(/no index at/);
    expect(ok.code).toBe(1);
  });
});
