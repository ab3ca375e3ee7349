// The server's version, from package.json: sent as X-Personium-Version on every response.
import { readFileSync } from 'node:fs';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export const cellarVersion: string = manifest.version;
