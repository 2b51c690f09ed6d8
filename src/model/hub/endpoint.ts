/**
 * The Hub endpoint (`HF_ENDPOINT`) and token (`HF_TOKEN`) as the Python tools read them: an empty
 * endpoint is the default one; a user and password in the endpoint URL are sent as basic auth
 * (as `requests` does for such a URL; fetch refuses a URL that carries them) and never shown;
 * a token loses the line breaks and surrounding blanks a file it was pasted from adds.
 */
import { RsclipError } from '../../errors.js';
import { hidePassword } from '../../url-password.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubEndpoint {
  /** The endpoint without credentials, without a trailing slash: what requests go to and messages show. */
  url: string;
  /** `Basic <base64>` for the user and password the endpoint URL carried. */
  basicAuthorization?: string;
}

export function parseEndpoint(raw: string | undefined): HubEndpoint {
  const given = raw?.trim();
  if (!given) return { url: DEFAULT_ENDPOINT };
  let url: URL | undefined;
  try {
    url = new URL(given);
  } catch {
    url = undefined;
  }
  // `127.0.0.1:8080` parses, with `127.0.0.1:` as its scheme
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new RsclipError('BAD_INPUT', `Expected an http:// or https:// URL for HF_ENDPOINT but received ${JSON.stringify(hidePassword(given))}`, {
      hint: 'set HF_ENDPOINT to a URL with its scheme, such as https://huggingface.co or http://127.0.0.1:8080, or unset it',
    });
  }
  let basicAuthorization: string | undefined;
  if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    basicAuthorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return { url: url.toString().replace(/\/+$/, ''), ...(basicAuthorization ? { basicAuthorization } : {}) };
}

/** A header value cannot hold control characters (other than tab) or characters past U+00FF. */
function sendableInHeader(value: string): boolean {
  return [...value].every((char) => {
    const code = char.codePointAt(0)!;
    return code === 0x09 || (code >= 0x20 && code !== 0x7f && code <= 0xff);
  });
}

/** The token to send, or undefined for none; one that cannot go in a header is refused without showing it. */
export function cleanToken(raw: string | undefined): string | undefined {
  const token = raw?.replace(/[\r\n]/g, '').trim();
  if (!token) return undefined;
  if (!sendableInHeader(token)) {
    throw new RsclipError('BAD_INPUT', `the Hugging Face token (HF_TOKEN) holds a character that cannot be sent in an HTTP header (a control character or a non-Latin-1 letter)`, {
      hint: 'set HF_TOKEN to the token exactly as https://huggingface.co/settings/tokens shows it',
    });
  }
  return token;
}
