// Files of the repository that code reaches at run time by path: worker threads' sources and
// package.json. They are resolved from this module's folder, one below the repository, which is
// also where the compiled server and command (`dist/server.mjs`, `dist/cellar.mjs` and its chunks,
// made by `bin/compiled-module.mjs`) sit, so the TypeScript sources and the compiled modules find
// the same files.
export function repositoryFile(relative: string): URL {
  return new URL(`../${relative}`, import.meta.url);
}
