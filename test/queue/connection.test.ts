import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseQueueUrl } from '../../src/queue/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-queue-url-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const at = path.join(dir, name);
  writeFileSync(at, text);
  return at;
};

describe('parseQueueUrl', () => {
  it('reads host, port, database and credentials; rediss:// turns TLS on', () => {
    expect(parseQueueUrl('redis://localhost:6380/2')).toEqual({ host: 'localhost', port: 6380, db: 2 });
    expect(parseQueueUrl('rediss://user:p%40ss@redis-host/0')).toEqual({ host: 'redis-host', port: 6379, db: 0, username: 'user', password: 'p@ss', tls: {} });
  });

  it('reads the authority, client certificate and key files a rediss:// URL names', () => {
    const ca = file('ca.pem', 'authority');
    const cert = file('client pem', 'certificate');
    const key = file('client.key', 'key');
    const options = parseQueueUrl(`rediss://redis-host:6380/1?sslrootcert=${encodeURIComponent(ca)}&sslcert=${encodeURIComponent(cert)}&sslkey=${encodeURIComponent(key)}`);
    expect(options.tls).toEqual({ ca: Buffer.from('authority'), cert: Buffer.from('certificate'), key: Buffer.from('key') });
    expect(parseQueueUrl(`rediss://redis-host?sslrootcert=${ca}`).tls).toEqual({ ca: Buffer.from('authority') });
  });

  it('refuses unknown parameters, certificates without TLS, a certificate without its key and unreadable files, never showing the password', () => {
    const cert = file('c.pem', 'certificate');
    const refusal = (url: string): string => {
      try {
        parseQueueUrl(url);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('BAD_INPUT');
        const { message, hint } = error as { message: string; hint?: string };
        expect(`${message} ${hint}`).not.toContain('s3cret');
        return `${message} (${hint})`;
      }
      throw new Error(`accepted ${url}`);
    };
    expect(refusal('rediss://:s3cret@h/0?cacert=/x.pem')).toMatch(/unknown parameter "cacert" in the Redis URL "rediss:\/\/:\*\*\*@h\/0\?cacert=\/x\.pem" \(a rediss:\/\/ URL takes sslrootcert, sslcert, sslkey/);
    expect(refusal(`redis://:s3cret@h/0?sslcert=${cert}&sslkey=${cert}`)).toMatch(/certificate files need TLS: .* is not a rediss:\/\/ URL/);
    expect(refusal(`rediss://:s3cret@h/0?sslcert=${cert}`)).toMatch(/a client certificate needs its key: give both sslcert and sslkey/);
    expect(refusal(`rediss://:s3cret@h/0?sslkey=${cert}`)).toMatch(/a client certificate needs its key/);
    expect(refusal(`rediss://:s3cret@h/0?sslrootcert=${path.join(dir, 'missing.pem')}`)).toMatch(/^cannot read the sslrootcert file ".*missing\.pem" of the Redis URL: ENOENT/);
    expect(refusal('http://:s3cret@h/0')).toMatch(/expected a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/:\*\*\*@h\/0"/);
    expect(refusal('rediss://:s3cret@h/x')).toMatch(/the Redis database in "rediss:\/\/:\*\*\*@h\/x" must be a number/);
  });
});
