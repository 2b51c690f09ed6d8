/**
 * A CommonJS package loaded when first used rather than when its importer is: sharp,
 * onnxruntime-node, proj4 and geotiff-geokeys-to-proj4 take 60-200 ms each to load, and most
 * runs that import a module using them (`serve` answering text queries, say) never call it on
 * that thread.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazyPackage<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(specifier) as T);
}
