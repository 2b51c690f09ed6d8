// Copies non-TypeScript assets (the web page) next to the compiled server.
import { cpSync, existsSync } from 'node:fs';

const from = 'src/server/public';
if (existsSync(from)) cpSync(from, 'dist/server/public', { recursive: true });
