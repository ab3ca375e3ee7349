// `npm start`: runs the server compiled (bin/server.ts and the modules it imports; the packages in
// node_modules stay as they are) into one JavaScript module, dist/server.mjs, compiled again
// whenever one of its sources changed (compiled-module.mjs). Run through tsx instead, the server
// held ~27 MB more (tsx's loader runs on a thread of its own and keeps what it compiled) and
// compiled each module as it started. Stack traces name lines of dist/server.mjs;
// `node --enable-source-maps bin/start.mjs` maps them back to the sources.
import { repositoryModule } from './compiled-module.mjs';

await import((await repositoryModule('bin/server.ts', 'server.mjs')).href);
