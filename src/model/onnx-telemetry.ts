/**
 * onnxruntime 1.30's Linux and macOS builds record telemetry (a device id, the CPU, the OS, the
 * executable, each model's file and graph name, run counts and errors) under
 * $XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime (else ~/.cache/...), and send it to
 * Microsoft's collector when they can reach it. An archive's models and machines are the user's
 * business, so rsclip turns that off unless the user chose (ORT_DISABLE_TELEMETRY=0 keeps it on).
 */
import { isMainThread } from 'node:worker_threads';

const TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

/**
 * Call before onnxruntime starts in this process. It reads the process's environment, which only
 * the main thread can change (a worker thread's process.env is a copy that native code never
 * sees), so a session opened in a worker relies on its opener having called this first.
 */
export function turnOffOnnxTelemetryUnlessChosen(): void {
  if (isMainThread && process.env[TELEMETRY_VARIABLE] === undefined) process.env[TELEMETRY_VARIABLE] = '1';
}
