/**
 * TLS for the commands that connect (Redis, PostgreSQL): the certificate files a URL names, under
 * libpq's parameter names, and Node's error codes of a failed handshake, for the hints.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { RsclipError } from './errors.js';

/**
 * A URL's certificate files, as node:tls names their contents: the authority to trust instead of
 * the system's, the client's certificate and its (unencrypted) key, all PEM.
 */
const CERTIFICATE_FILES = { sslrootcert: 'ca', sslcert: 'cert', sslkey: 'key' } as const;
type CertificateParameter = keyof typeof CERTIFICATE_FILES;
export const CERTIFICATE_PARAMETERS = Object.keys(CERTIFICATE_FILES) as CertificateParameter[];
export const isCertificateParameter = (name: string): name is CertificateParameter => Object.hasOwn(CERTIFICATE_FILES, name);

/**
 * The certificate files `parameters` name, as TLS options, read now so that a wrong path is
 * reported as the URL's (`what`: "the Redis URL"); a certificate needs its key, and the reverse.
 */
export function readCertificateFiles(parameters: URLSearchParams, what: string): Pick<ConnectionOptions, 'ca' | 'cert' | 'key'> {
  if (parameters.has('sslcert') !== parameters.has('sslkey')) throw new RsclipError('BAD_INPUT', `a client certificate needs its key: give both sslcert and sslkey in ${what}`);
  const files: Pick<ConnectionOptions, 'ca' | 'cert' | 'key'> = {};
  for (const name of CERTIFICATE_PARAMETERS) {
    const file = parameters.get(name);
    if (file === null) continue;
    try {
      files[CERTIFICATE_FILES[name]] = readFileSync(file);
    } catch (cause) {
      throw new RsclipError('BAD_INPUT', `cannot read the ${name} file "${file}" of ${what}: ${(cause as Error).message}`, { cause });
    }
  }
  return files;
}

/** The server's certificate is not trusted (unknown authority, expired, for another name). */
const UNTRUSTED_SERVER_CERTIFICATE = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']);

export const isUntrustedServerCertificate = (code: string): boolean => UNTRUSTED_SERVER_CERTIFICATE.has(code);

/** The server ended the handshake with an alert (OpenSSL's, as Node names them): it wanted a client certificate, or not this one. */
export const isTlsAlert = (code: string): boolean => /^ERR_SSL_(TLSV1[0-9]?|SSLV3)_ALERT_/.test(code);

/** OpenSSL's errors come with a multi-line message; their `reason` says the same in a few words. */
export const tlsReason = (error: Error): string => (error as { reason?: unknown }).reason?.toString() ?? error.message;
