#!/usr/bin/env node
// The `cellar` command: loads the TypeScript client through tsx's loader, then runs it.
import { register } from 'tsx/esm/api';

register();
await import('./cellar/main.ts');
