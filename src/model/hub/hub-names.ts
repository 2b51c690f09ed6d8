/**
 * Repository ids and revisions checked as the Hub checks them (huggingface_hub's
 * `validate_repo_id`, git's `check-ref-format`), before either reaches a URL or a cache path:
 * `a--b/c` and `a/b--c` would share the cache folder `a--b--c`, and a revision `..` would name
 * the folder above the cache's refs.
 */
import { RsclipError } from '../../errors.js';

/** One part of a repo id: letters, digits, `_`, `-`, `.`, starting and ending with a letter, digit or `_`, at most 96 long. */
const REPO_ID_PART = /^(?:[\w]|[\w][\w.-]{0,94}[\w])$/;

export function checkRepoId(repoId: string): void {
  const parts = repoId.split('/');
  const valid = parts.length <= 2 && parts.every((part) => REPO_ID_PART.test(part)) && !/--|\.\./.test(repoId) && !repoId.endsWith('.git');
  if (!valid) {
    throw new RsclipError('BAD_INPUT', `Expected a Hub repository id like owner/name but received ${JSON.stringify(repoId)}`, {
      hint: 'ids use letters, digits, "-", "_" and "." (not "--" or "..", not at either end), as on the Hub',
    });
  }
}

/** A branch, tag or commit as git accepts one: no empty or `.`-led parts, no `..`, `@{`, `.lock` ends, blanks or `~^:?*[\`. */
export function checkRevision(revision: string): void {
  const valid =
    revision !== '' &&
    revision !== '@' &&
    !/\.\.|@\{|\/\/|[\s~^:?*[\\]/.test(revision) &&
    [...revision].every((char) => char.charCodeAt(0) >= 0x20 && char.charCodeAt(0) !== 0x7f) &&
    revision.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock')) &&
    !revision.endsWith('.');
  if (!valid) {
    throw new RsclipError('BAD_INPUT', `Expected a branch, tag or commit for --revision but received ${JSON.stringify(revision)}`, {
      hint: 'pass a revision as the Hub names it, such as main, v1.0 or a commit sha',
    });
  }
}
