/** Connection URLs in messages and logs (PostgreSQL index locations, Redis queues) never show a password. */
import { describe, expect, it } from 'vitest';
import { hidePassword, urlInCommand } from '../src/url-password.js';
import { parsePostgresLocation } from '../src/store/postgres/location.js';

describe('hidePassword', () => {
  it('replaces the password and leaves the rest as given', () => {
    expect(hidePassword('rediss://:s3cret@redis-host:6380/0')).toBe('rediss://:***@redis-host:6380/0');
    expect(hidePassword('postgres://alice:p%40ss@db.example/rsclip?schema=a')).toBe('postgres://alice:***@db.example/rsclip?schema=a');
    expect(hidePassword('redis://alice@localhost:6379/0')).toBe('redis://alice@localhost:6379/0');
    expect(hidePassword('redis://localhost:6379')).toBe('redis://localhost:6379');
  });

  it('hides a password given as a query parameter, however its name is written', () => {
    expect(hidePassword('postgres://reader@127.0.0.1:1/archive?schema=rsclip&password=hunter3q')).toBe('postgres://reader@127.0.0.1:1/archive?schema=rsclip&password=***');
    expect(hidePassword('postgres://db/archive?sslpassword=kp4ss&sslmode=require')).toBe('postgres://db/archive?sslpassword=***&sslmode=require');
    expect(hidePassword('postgres://a:b@db/x?pass%77ord=s3cret#frag')).toBe('postgres://a:***@db/x?pass%77ord=***#frag');
    expect(hidePassword('postgres://db/x?schema=password')).toBe('postgres://db/x?schema=password');
    // a value may hold a `;` (pg splits at `&` only), and a `;password=` no parser reads is still a secret
    expect(hidePassword('postgres://db/x?password=ab;cd&schema=s')).toBe('postgres://db/x?password=***&schema=s');
    expect(hidePassword('postgres://db/x?schema=s;password=p4ss;x=1&y=2')).toBe('postgres://db/x?schema=s;password=***&y=2');
  });

  it('hides a password written unencoded, whatever it holds, as the connection libraries read it', () => {
    expect(hidePassword('postgres://bob:Sek:r3t@Pw@127.0.0.1:55432/qa2?schema=bob')).toBe('postgres://bob:***@127.0.0.1:55432/qa2?schema=bob');
    expect(hidePassword('postgres://carol:Pa^ss|w;rd@127.0.0.1:55432/qa2')).toBe('postgres://carol:***@127.0.0.1:55432/qa2');
    expect(hidePassword('postgres://alice:Sekr3t/Pw@db.example/qa')).toBe('postgres://alice:***@db.example/qa');
    expect(hidePassword('postgres://alice:@ss:w/rd#?%&=x y@[::1]:5432/qa')).toBe('postgres://alice:***@[::1]:5432/qa');
    expect(hidePassword('redis://:r3d!s:p@ss@127.0.0.1:56380/0')).toBe('redis://:***@127.0.0.1:56380/0');
    expect(hidePassword('postgres://alice@db.example:5432/qa')).toBe('postgres://alice@db.example:5432/qa');
    // an @ in the query is not the user part's
    expect(hidePassword('postgres://db.example:5432/qa?application_name=me@site')).toBe('postgres://db.example:5432/qa?application_name=me@site');
    expect(hidePassword('postgres://u:p4ss@db.example/qa?application_name=me@site')).toBe('postgres://u:***@db.example/qa?application_name=me@site');
  });

  it('hides what stands for a password in text that is no URL', () => {
    expect(hidePassword('postgres://alice:s3cret@[bad')).toBe('postgres://alice:***@[bad');
  });

  it('is what a PostgreSQL location shows', () => {
    expect(parsePostgresLocation('postgres://alice:s3cret@db.example:5432/rsclip?schema=tiles').shown).toBe('postgres://alice:***@db.example:5432/rsclip?schema=tiles');
    expect(() => parsePostgresLocation('postgres://alice:s3cret@[bad')).toThrow('not a PostgreSQL URL: postgres://alice:***@[bad');
    expect(() => parsePostgresLocation('postgres://alice:s3cret@db.example/rsclip?schema=a&schema=b')).toThrow('"schema" is given more than once in the index URL postgres://alice:***@db.example/rsclip?schema=a&schema=b');
    expect(() => parsePostgresLocation('postgres://alice:s3cret@db.example/rsclip?sslmode=bogus')).toThrow('invalid sslmode "bogus" in the index URL');
    expect(parsePostgresLocation('postgres://alice@db.example/rsclip?sslmode=verify-full&schema=x').connectionString).toBe('postgres://alice@db.example/rsclip?sslmode=verify-full');
  });
});

describe('urlInCommand', () => {
  it('puts PASSWORD where a password goes, also in a URL already shown with ***, quoted for the shell', () => {
    expect(urlInCommand('postgres://bob:Sek:r3t@db.example/arch?schema=tiles&sslmode=require')).toBe("'postgres://bob:PASSWORD@db.example/arch?schema=tiles&sslmode=require'");
    expect(urlInCommand('postgres://bob:***@db.example/arch?schema=tiles')).toBe("'postgres://bob:PASSWORD@db.example/arch?schema=tiles'");
    expect(urlInCommand('postgres://bob@db.example:5432/arch?password=x&schema=o')).toBe("'postgres://bob@db.example:5432/arch?password=PASSWORD&schema=o'");
    expect(urlInCommand("postgres://bob@db.example/it's")).toBe("'postgres://bob@db.example/it'\\''s'");
  });
});
