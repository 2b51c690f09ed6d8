/**
 * A ClipEncoder for evaluation tests that embed texts only (the images' vectors come from the
 * index): each test says how its texts embed; everything that would embed images throws.
 */
import type { ClipEncoder, ModelInfo } from '../../src/model/index.js';

export abstract class TextOnlyEncoder implements ClipEncoder {
  abstract readonly info: ModelInfo;
  readonly runCount = { text: 0, image: 0 };
  textTokens(text: string): number {
    return text.split(' ').length + 2;
  }
  abstract embedTexts(texts: string[]): Promise<Float32Array[]>;
  embedImages(): Promise<Float32Array[]> {
    throw new Error('not used');
  }
  preprocess(): never {
    throw new Error('not used');
  }
  preprocessRgb(): never {
    throw new Error('not used');
  }
  embedPixels(): Promise<Float32Array[]> {
    throw new Error('not used');
  }
  async close(): Promise<void> {}
}
