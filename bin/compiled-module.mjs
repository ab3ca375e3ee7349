// A TypeScript entry point compiled with esbuild into one JavaScript module (the packages in
// node_modules stay as they are; what it imports with import() goes into chunks beside it, loaded
// when used), kept in dist/ and compiled again only when one of the sources it
// was made from changed. Beside the module, a list names every source with the size and time it
// had when the module was made; a source whose size or time differs (or that is gone), or a
// missing list or module, makes a new build, so the module never runs code older than its sources.
// Start-up through tsx's loader cost ~0.6 s a command; a check of the list costs a few ms.
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The sources the module at `outfile` was made from, or undefined when it must be made again. */
async function freshInputs(outfile, listFile) {
  const list = await readFile(listFile, 'utf8').then(JSON.parse, () => undefined);
  if (!list || list.outfile !== outfile || !Array.isArray(list.inputs) || !Array.isArray(list.outputs)) return undefined;
  const outputs = await Promise.all([outfile, ...list.outputs].map((file) => stat(file).then((info) => info.isFile(), () => false)));
  if (!outputs.every(Boolean)) return undefined;
  const checks = await Promise.all(list.inputs.map(async ({ file, size, mtimeMs }) => {
    const info = await stat(file).catch(() => undefined);
    return info !== undefined && info.size === size && info.mtimeMs === mtimeMs;
  }));
  return checks.every(Boolean) ? list.inputs : undefined;
}

/**
 * Writes under a name of this process and renames, so that commands starting at the same time
 * never read a half-written file (they write the same bytes).
 */
async function writeWhole(file, contents) {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, file);
}

async function build(entry, outfile, listFile) {
  const started = Date.now();
  const esbuild = await import('esbuild');
  try {
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'linked',
      // What the entry imports with import() goes into chunks of their own, loaded when used.
      splitting: true,
      outdir: path.dirname(outfile),
      entryNames: path.basename(outfile, '.mjs'),
      // Beside the entry, so that paths resolved from a module's own URL (core/repository-files.ts) hold.
      chunkNames: `${path.basename(outfile, '.mjs')}.chunk-[name]-[hash]`,
      outExtension: { '.js': '.mjs' },
      write: false,
      metafile: true,
      logLevel: 'warning',
    });
    await mkdir(path.dirname(outfile), { recursive: true });
    // The chunks before the entry that imports them, so that a command starting meanwhile never
    // finds the new entry without its chunks.
    const entryLast = [...result.outputFiles].sort((a, b) => Number(a.path === outfile) - Number(b.path === outfile));
    for (const output of entryLast) await writeWhole(output.path, output.contents);
    const root = process.cwd();
    const inputs = await Promise.all(Object.keys(result.metafile.inputs).map(async (input) => {
      const file = path.resolve(root, input);
      const info = await stat(file);
      return { file, size: info.size, mtimeMs: info.mtimeMs };
    }));
    // A source changed while it was compiled may not be in the module: no list, so the next
    // command compiles again.
    if (inputs.some((input) => input.mtimeMs >= started)) return;
    const outputs = result.outputFiles.map((output) => output.path).filter((file) => file !== outfile);
    await writeWhole(listFile, `${JSON.stringify({ outfile, inputs, outputs })}\n`);
    await removeOlderChunks(outfile, outputs);
  } finally {
    // esbuild's service is a process of its own, not needed once the module is written.
    await esbuild.stop();
  }
}

/**
 * Chunks of earlier builds (`{entry}.chunk-{name}-{hash}.mjs` beside the entry) are removed once
 * they are some minutes old: a command started before this build may still import one.
 */
const chunkKeptMs = 10 * 60 * 1000;

async function removeOlderChunks(outfile, outputs) {
  const folder = path.dirname(outfile);
  const prefix = `${path.basename(outfile, '.mjs')}.chunk-`;
  const current = new Set(outputs);
  const names = (await readdir(folder).catch(() => [])).filter((name) => name.startsWith(prefix));
  await Promise.all(names.map((name) => path.join(folder, name)).filter((file) => !current.has(file)).map(async (file) => {
    const info = await stat(file).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > chunkKeptMs) await rm(file, { force: true });
  }));
}

/** The URL of `entry` compiled into `outfile`, made first when missing or older than its sources. */
export async function compiledModule(entry, outfile) {
  const listFile = `${outfile}.inputs.json`;
  if (!(await freshInputs(outfile, listFile))) await build(entry, outfile, listFile);
  return pathToFileURL(outfile);
}

/** The repository's own modules, compiled into its dist/ folder. */
export function repositoryModule(entry, name) {
  const repository = fileURLToPath(new URL('..', import.meta.url));
  return compiledModule(path.join(repository, entry), path.join(repository, 'dist', name));
}
