// Files of the repository that code reaches at run time by path: worker threads' sources and
// package.json. They are resolved from this module's folder, one below the repository, which is
// also where the compiled server (`dist/server.mjs`, made by `bin/start.mjs`) sits, so the
// TypeScript sources and the compiled server find the same files.
export function repositoryFile(relative: string): URL {
  return new URL(`../${relative}`, import.meta.url);
}
