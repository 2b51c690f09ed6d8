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
});
