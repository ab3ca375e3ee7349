#!/usr/bin/env node
// The `cellar` command: runs the client compiled into dist/cellar.mjs, compiled first when that is
// missing or older than its sources (compiled-module.mjs).
import { repositoryModule } from './compiled-module.mjs';

await import((await repositoryModule('bin/cellar/main.ts', 'cellar.mjs')).href);
