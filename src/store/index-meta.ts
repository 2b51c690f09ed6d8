/** What every back end's meta table says about an index, read the same way (keys as engines.ts and the back ends write them). */
import { RsclipError } from '../errors.js';
import { engineFromMeta } from './engines.js';
import { locationInCommand } from './postgres/location.js';
import type { IndexMeta } from './types.js';

/** The meta key an `index copy` records in its target until it has finished: the source's location, as messages show it. */
export const COPY_MARK = 'copy_from';

/**
 * The index's meta from its key/value entries; undefined while no model is recorded (an index
 * still being created). An `index copy` records the model last: a target whose copy stopped is
 * named as such, with the command that finishes it.
 */
export function indexMetaFromEntries(m: ReadonlyMap<string, string>, location: string, schemaVersion: number): IndexMeta | undefined {
  if (!m.has('model_fingerprint')) {
    const source = m.get(COPY_MARK);
    if (source === undefined) return undefined;
    throw new RsclipError('INDEX_CORRUPT', `index ${location} is an unfinished copy of ${source}: an \`rsclip index copy\` into it stopped before it finished`, {
      hint: `run \`rsclip index copy --from ${locationInCommand(source)} --to ${locationInCommand(location)}\` again: it goes on where it stopped`,
    });
  }
  const metric = m.get('metric') ?? 'cosine';
  if (metric !== 'cosine') {
    throw new RsclipError('INDEX_INCOMPATIBLE', `index ${location} uses the metric "${metric}"; this rsclip searches by cosine only`, { hint: 'update rsclip' });
  }
  return {
    schemaVersion,
    modelId: m.get('model_id') ?? '',
    modelFingerprint: m.get('model_fingerprint') ?? '',
    embeddingDim: Number(m.get('embedding_dim')),
    metric,
    engine: engineFromMeta(m, location),
    createdAt: m.get('created_at') ?? '',
    modelDir: m.get('model_dir'),
    modelVariant: m.get('model_variant'),
    plan: m.get('plan'),
    decodeSettings: m.get('decode_settings'),
  };
}
