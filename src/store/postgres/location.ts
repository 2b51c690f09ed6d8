/**
 * A PostgreSQL index location: a `postgres://` or `postgresql://` URL. The index lives in one
 * schema of the database (`?schema=NAME`, default `rsclip`), so one database can hold several
 * indexes; the parameter is rsclip's and is taken out before the URL reaches the `pg` client,
 * as is libpq's `connect_timeout` (seconds), which rsclip applies (10 by default).
 * Messages name the URL as given, without its password.
 */
import { RsclipError } from '../../errors.js';
import { readCertificateFiles } from '../../tls.js';
import { hidePassword, urlInCommand } from '../../url-password.js';

export const DEFAULT_SCHEMA = 'rsclip';

export interface PostgresLocation {
  /** The connection string for `pg` (without rsclip's own parameters). */
  connectionString: string;
  /** The schema the index's tables live in. */
  schema: string;
  /** The URL as messages show it: no password. */
  shown: string;
  /** Milliseconds a connection may take to open (libpq's `connect_timeout`, in seconds in the URL; 0: no limit). */
  connectTimeoutMs: number;
}

/** The `sslmode` values the pg client knows; any other turns TLS on with its defaults, whatever was meant. */
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];

/** Seconds a connection may take to open when the URL does not say (libpq would wait for ever). */
const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;

export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** An index location as a hint's command shows it: a URL quoted, its password to put back (urlInCommand); a folder as given. */
export function locationInCommand(location: string): string {
  return isPostgresLocation(location) ? urlInCommand(location) : location;
}

export function parsePostgresLocation(location: string): PostgresLocation {
  let url: URL;
  try {
    url = new URL(location);
  } catch (cause) {
    throw new RsclipError('BAD_INPUT', `not a PostgreSQL URL: ${hidePassword(location)}`, { cause, hint: 'e.g. postgres://user@host:5432/db?schema=rsclip' });
  }
  // a parameter given twice would be read as its first (another index than meant, with ?schema=)
  const repeated = [...new Set(url.searchParams.keys())].find((key) => url.searchParams.getAll(key).length > 1);
  if (repeated !== undefined) throw new RsclipError('BAD_INPUT', `"${repeated}" is given more than once in the index URL ${hidePassword(location)}`, { hint: `give ${repeated}= once` });
  const schema = url.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new RsclipError('BAD_INPUT', `invalid schema "${schema}" in the index URL`, { hint: 'a schema name of lower-case letters, digits and _ (at most 63), starting with a letter' });
  }
  url.searchParams.delete('schema');
  // libpq's parameter, which pg passes on without heeding it: rsclip applies it
  const timeout = url.searchParams.get('connect_timeout') ?? String(DEFAULT_CONNECT_TIMEOUT_SECONDS);
  if (!/^\d+$/.test(timeout)) throw new RsclipError('BAD_INPUT', `invalid connect_timeout "${timeout}" in the index URL`, { hint: 'whole seconds, e.g. connect_timeout=10 (0: wait as long as it takes)' });
  url.searchParams.delete('connect_timeout');
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) {
    throw new RsclipError('BAD_INPUT', `invalid sslmode "${sslmode}" in the index URL`, { hint: `one of ${SSL_MODES.join(', ')} (verify-full checks the server's certificate and name)` });
  }
  // pg reads these itself when it connects; read here first, a wrong path is named as the URL's
  readCertificateFiles(url.searchParams, 'the index URL');
  return { connectionString: url.toString(), schema, shown: hidePassword(location), connectTimeoutMs: Number(timeout) * 1000 };
}
