/**
 * A CommonJS package loaded when first used rather than when its importer is: sharp,
 * onnxruntime-node, proj4 and geotiff-geokeys-to-proj4 take 60-200 ms each to load, and most
 * runs that import a module using them (`serve` answering text queries, say) never call it on
 * that thread.
 */
import { createRequire } from 'node:module';
import { RsclipError } from './errors.js';

const require = createRequire(import.meta.url);

/** Loading `specifier` failed: the install's fault, which the callers that turn errors into a file's failure pass on. */
export function dependencyMissing(specifier: string, cause: unknown): RsclipError {
  const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return new RsclipError('DEPENDENCY_MISSING', `cannot load the package ${specifier}: ${why}`, {
    hint: "reinstall rsclip's dependencies (`npm ci` where it is installed; a native package needs the build for this platform)",
    cause,
  });
}

/**
 * Loads these packages now, so that their loaders answer at once when first called; one that
 * cannot load is left for its loader to report where it is needed.
 */
export function preloadPackages(specifiers: readonly string[]): void {
  for (const specifier of specifiers) {
    try {
      require(specifier);
    } catch {
      // reported by lazyPackage's loader, to the caller that needs the package
    }
  }
}

export function lazyPackage<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        loaded = require(specifier) as T;
      } catch (cause) {
        throw dependencyMissing(specifier, cause);
      }
    }
    return loaded;
  };
}
