/**
 * The optional XYZ basemap of the web page's map (`rsclip serve --basemap URL`, config key
 * `basemap`): a tile URL template with {z}, {x} and {y} on one http(s) host, which the page's
 * Content-Security-Policy then allows images from. Without one the map shows the scenes' own
 * overviews and a graticule, and needs no network.
 */
import { RsclipError } from '../errors.js';

export const BASEMAP_TEMPLATE = /^https?:\/\/[^/{}\s]+\/\S*$/;

/** The origin tiles come from; throws BAD_INPUT for a template the page cannot use. */
export function basemapOrigin(template: string): string {
  if (!BASEMAP_TEMPLATE.test(template) || !['{z}', '{x}', '{y}'].every((p) => template.includes(p))) {
    throw new RsclipError('BAD_INPUT', `--basemap must be an http(s) XYZ tile URL with {z}, {x} and {y} on one host, got ${JSON.stringify(template)}`, {
      hint: 'e.g. --basemap "https://tile.openstreetmap.org/{z}/{x}/{y}.png"',
    });
  }
  return new URL(template.replace(/\{[a-z]+\}/g, '0')).origin;
}
