/**
 * onnxruntime 1.30's Linux and macOS builds record telemetry (a device id, the CPU, the OS, the
 * executable, each model's file and graph name, run counts and errors) under
 * $XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime (else ~/.cache/...), and send it to
 * Microsoft's collector when they can reach it. An archive's models and machines are the user's
 * business, so rsclip turns that off unless the user chose (ORT_DISABLE_TELEMETRY=0 keeps it on).
 *
 * Importing this module does it, once, as the library or a command loads: the modules that open
 * sessions import it for that. Changing the environment later, when the first session opens, crashed
 * about one run in 500 with a segmentation fault: glibc's setenv may move the environment while
 * another thread reads it without a lock, and libvips (sharp) calls getenv from its threads in every
 * decode, which runs beside the first session's opening (the next batch is decoded meanwhile).
 * Only the main thread sets it: a worker thread's process.env is a copy that native code never sees.
 */
import { isMainThread } from 'node:worker_threads';

const TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

if (isMainThread && process.env[TELEMETRY_VARIABLE] === undefined) process.env[TELEMETRY_VARIABLE] = '1';
