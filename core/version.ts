// The server's version, from package.json: sent as X-Personium-Version on every response.
import { readFileSync } from 'node:fs';
import { repositoryFile } from './repository-files.ts';

const manifest = JSON.parse(readFileSync(repositoryFile('package.json'), 'utf8')) as { version: string };

export const cellarVersion: string = manifest.version;
