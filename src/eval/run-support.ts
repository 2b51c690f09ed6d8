/** What every evaluation run does around its work: open (or borrow) the encoder, time its phases, describe its model. */
import { openClip, type ClipEncoder, type ModelInfo, type ModelVariant } from '../model/index.js';

export interface EncoderChoice {
  /** Model directory (opened here and closed after) or an open encoder (left open). */
  model: string | ClipEncoder;
  threads?: number | undefined;
  variant?: ModelVariant | undefined;
}

export async function withEncoder<T>(choice: EncoderChoice, run: (encoder: ClipEncoder) => Promise<T>): Promise<T> {
  if (typeof choice.model !== 'string') return run(choice.model);
  const encoder = await openClip(choice.model, { ...(choice.threads ? { threads: choice.threads } : {}), ...(choice.variant ? { variant: choice.variant } : {}) });
  try {
    return await run(encoder);
  } finally {
    await encoder.close();
  }
}

/** Seconds since the previous lap (or since the clock started). */
export function phaseClock(): () => number {
  let at = performance.now();
  return () => {
    const now = performance.now();
    const seconds = (now - at) / 1000;
    at = now;
    return seconds;
  };
}

export interface ReportModel {
  id: string;
  fingerprint: string;
  variant: string;
}

export function reportModel(info: ModelInfo): ReportModel {
  return { id: info.id, fingerprint: info.fingerprint, variant: info.variant };
}
