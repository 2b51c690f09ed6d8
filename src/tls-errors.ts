/** Node's error codes of a failed TLS connection, for the hints of the commands that connect (Redis, PostgreSQL). */

/** The server's certificate is not trusted (unknown authority, expired, for another name). */
const UNTRUSTED_SERVER_CERTIFICATE = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']);

export const isUntrustedServerCertificate = (code: string): boolean => UNTRUSTED_SERVER_CERTIFICATE.has(code);

/** The server ended the handshake with an alert (OpenSSL's, as Node names them): it wanted a client certificate, or not this one. */
export const isTlsAlert = (code: string): boolean => /^ERR_SSL_(TLSV1[0-9]?|SSLV3)_ALERT_/.test(code);

/** OpenSSL's errors come with a multi-line message; their `reason` says the same in a few words. */
export const tlsReason = (error: Error): string => (error as { reason?: unknown }).reason?.toString() ?? error.message;
