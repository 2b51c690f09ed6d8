/** The server's log formats (a module of its own, so that the CLI can offer them without loading the server). */
export type LogFormat = 'pretty' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json'];
