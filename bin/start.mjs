// `npm start`: compiles the server (bin/server.ts and the modules it imports; the packages in
// node_modules stay as they are) into one JavaScript module with esbuild, then runs it. Run
// through tsx instead, the server held ~27 MB more (tsx's loader runs on a thread of its own and
// keeps what it compiled) and compiled each module as it started. Stack traces name lines of
// dist/server.mjs; `node --enable-source-maps bin/start.mjs` maps them back to the sources.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build, stop } from 'esbuild';

const dist = new URL('../dist/', import.meta.url);
const compiled = new URL('server.mjs', dist);
const result = await build({
  entryPoints: [fileURLToPath(new URL('./server.ts', import.meta.url))],
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  outfile: fileURLToPath(compiled),
  write: false,
  logLevel: 'warning',
});
await mkdir(dist, { recursive: true });
// Written under a name of this process and renamed, so that servers starting at the same time
// never read a half-written file (they write the same bytes).
for (const output of result.outputFiles) {
  const temporary = `${output.path}.${process.pid}.tmp`;
  await writeFile(temporary, output.contents);
  await rename(temporary, output.path);
}
// esbuild's service is a process of its own (~30 MB), not needed once the server is compiled.
await stop();
await import(compiled.href);
