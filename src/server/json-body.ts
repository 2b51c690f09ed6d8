/**
 * The JSON body parser of every route that takes JSON (POST /api/search, POST
 * /api/images/:id/locate). JSON.parse runs on the main thread, and what costs it time is
 * structure, not bytes: 26 MB of `[0,0,0,...]` held every other request for 3.5-4.7 s, where a
 * 14 MB base64 image (one string) takes a fraction of that. So before JSON.parse runs, the body's
 * structural characters (`{` `[` `,` `:` outside strings) are counted in one pass over its bytes,
 * and a body with far more than any valid request can have is refused (413).
 */
import express, { type RequestHandler } from 'express';
import { MAX_TERMS } from '../search/limits.js';
import { FILTER_LIMITS, MAX_AREA_POSITIONS } from '../store/filter.js';
import { HttpError } from './http-error.js';

/**
 * Structural characters a valid request may hold, with room to spare: a `within` area of
 * MAX_AREA_POSITIONS positions (`[x,y,z],`: 4 each), the filter's user field values and names,
 * the terms, and the rest of the request's keys, doubled for what a GeoJSON area carries besides
 * its positions (rings, features, their properties). About 170,000: JSON.parse takes a few
 * milliseconds over that many.
 */
export const MAX_JSON_STRUCTURE = 2 * (MAX_AREA_POSITIONS * 4 + FILTER_LIMITS.values * 4 + (FILTER_LIMITS.fieldNames + MAX_TERMS + 64) * 8);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * `{` `[` `,` `:` outside strings in UTF-8 JSON text, counted up to `stopAfter` + 1. Strings are
 * skipped with indexOf (a base64 image costs next to nothing); text that is not JSON is counted
 * as far as it goes, and left to JSON.parse to refuse.
 */
export function countJsonStructure(text: Buffer, stopAfter = Number.POSITIVE_INFINITY): number {
  const length = text.length;
  let count = 0;
  let i = 0;
  while (i < length) {
    const c = text[i];
    if (c === QUOTE) {
      let end = i;
      let backslashes: number;
      do {
        end = text.indexOf(QUOTE, end + 1);
        // an unterminated string: JSON.parse will say so
        if (end < 0) return count;
        // escaped when an odd number of backslashes comes before it
        backslashes = 0;
        while (end - backslashes - 1 > i && text[end - backslashes - 1] === BACKSLASH) backslashes++;
      } while (backslashes % 2 === 1);
      i = end + 1;
      continue;
    }
    // , : [ {
    if (c === 0x2c || c === 0x3a || c === 0x5b || c === 0x7b) {
      count++;
      if (count > stopAfter) return count;
    }
    i++;
  }
  return count;
}

function tooMuchStructure(maxStructure: number): HttpError {
  return new HttpError(
    413,
    'PAYLOAD_TOO_LARGE',
    `the JSON body has more than ${maxStructure} brackets, braces, commas and colons, more than any valid request (a \`within\` area has at most ${MAX_AREA_POSITIONS} positions, a filter at most ${FILTER_LIMITS.values} field values)`,
    {},
    'simplify the `within` area, or send fewer values',
  );
}

/** express.json with the size limit and the structure check before JSON.parse. */
export function jsonBodyParser(limitBytes: number, maxStructure = MAX_JSON_STRUCTURE): RequestHandler {
  return express.json({
    limit: limitBytes,
    strict: true,
    verify(_req, _res, body, encoding) {
      let text = body;
      if (encoding && !/^utf-?8$/i.test(encoding)) {
        // UTF-16, which the parser takes too, counted as UTF-8; a charset no decoder here reads is
        // refused (JSON between systems is UTF-8, RFC 8259)
        try {
          text = Buffer.from(new TextDecoder(encoding).decode(body), 'utf8');
        } catch {
          throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `unsupported charset "${encoding}": send JSON as UTF-8`);
        }
      }
      if (countJsonStructure(text, maxStructure) > maxStructure) throw tooMuchStructure(maxStructure);
    },
  });
}
