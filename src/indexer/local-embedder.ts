/** The default Embedder: this process's encoder, one batch at a time, on pixels the preparer decoded. */
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import type { EmbedUnit, Embedder } from './types.js';

function pixelsOf(unit: EmbedUnit): Float32Array {
  if ('pixels' in unit) return unit.pixels;
  throw new RsclipError('BAD_INPUT', `window ${unit.key} of ${unit.job.work.file.path} came without pixels: the local embedder needs a preparer that decodes`);
}

export function localEmbedder(encoder: ClipEncoder): Embedder {
  const sessions = encoder.visionSessions ?? 1;
  return {
    info: encoder.info,
    decodesHere: true,
    // a batch for each vision session, run side by side
    inFlight: sessions,
    localModelRuns: sessions,
    async embed(batch) {
      const t0 = performance.now();
      // the pixels are not needed once embedded
      const vectors = await encoder.embedPixels(batch.map(pixelsOf), { handOver: true });
      return { results: vectors.map((vector) => ({ vector })), modelSeconds: (performance.now() - t0) / 1000 };
    },
  };
}
