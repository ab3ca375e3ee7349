import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';

const loader = new URL('../bin/compiled-module.mjs', import.meta.url).href;
const run = promisify(execFile);

/** A small TypeScript program in a folder of its own: entry.ts prints what part.ts exports. */
async function project(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-compiled-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'entry.ts'), "import { word } from './part.ts';\nconst said: string = word;\nconsole.log(said);\n");
  await writeFile(path.join(dir, 'part.ts'), "export const word: string = 'one';\n");
  const outfile = path.join(dir, 'dist', 'entry.mjs');
  /** Runs the entry the way bin/cellar.js runs the client, in a new process; returns what it printed. */
  const start = async () => {
    const script = `const { compiledModule } = await import(${JSON.stringify(loader)}); await import((await compiledModule(${JSON.stringify(path.join(dir, 'entry.ts'))}, ${JSON.stringify(outfile)})).href);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
    return stdout.trim();
  };
  return { dir, outfile, start };
}

test('a program with no compiled module yet is compiled into dist and runs', async (t) => {
  const { outfile, start } = await project(t);
  t.is(await start(), 'one');
  t.true((await stat(outfile)).isFile());
  t.true((await stat(`${outfile}.inputs.json`)).isFile());
});

test('the compiled module is reused while its sources stay as they were', async (t) => {
  const { outfile, start } = await project(t);
  await start();
  const made = (await stat(outfile)).mtimeMs;
  t.is(await start(), 'one');
  t.is((await stat(outfile)).mtimeMs, made);
});

test('a source that changed after the build is compiled again before the program runs', async (t) => {
  const { dir, start } = await project(t);
  t.is(await start(), 'one');
  await writeFile(path.join(dir, 'part.ts'), "export const word: string = 'two';\n");
  t.is(await start(), 'two');
});

test('a source of the same size given an older time still counts as changed', async (t) => {
  const { dir, start } = await project(t);
  t.is(await start(), 'one');
  const part = path.join(dir, 'part.ts');
  await writeFile(part, "export const word: string = 'six';\n");
  await utimes(part, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
  t.is(await start(), 'six');
});

test('a compiled module that was removed is made again', async (t) => {
  const { outfile, start } = await project(t);
  await start();
  await rm(outfile);
  t.is(await start(), 'one');
  t.true((await stat(outfile)).isFile());
});

test('what the entry imports with import() is a chunk beside it, run only when imported; a missing chunk makes a new build, an older one is removed once a while old', async (t) => {
  const { dir, outfile, start } = await project(t);
  await writeFile(path.join(dir, 'entry.ts'), "const later = await import('./late.ts');\nconsole.log(later.said());\n");
  await writeFile(path.join(dir, 'late.ts'), "console.log('late loaded');\nexport const said = (): string => 'late one';\n");
  t.is(await start(), 'late loaded\nlate one');
  const chunksOf = async () => (await readdir(path.dirname(outfile))).filter((name) => /^entry\.chunk-late-\w+\.mjs$/.test(name)).sort();
  const [chunk] = await chunksOf();
  t.truthy(chunk, 'the imported module is a chunk of its own');
  t.false((await readFile(outfile, 'utf8')).includes('late loaded'), 'the entry does not hold the chunk');

  await rm(path.join(path.dirname(outfile), chunk!));
  t.is(await start(), 'late loaded\nlate one');
  t.deepEqual(await chunksOf(), [chunk]);

  // A new build keeps the older chunk a while (a command started before may still import it)...
  await writeFile(path.join(dir, 'late.ts'), "export const said = (): string => 'late two';\n");
  t.is(await start(), 'late two');
  const second = await chunksOf();
  t.is(second.length, 2);
  t.true(second.includes(chunk!));
  // ...and removes it once it is old.
  const past = new Date(Date.now() - 3600_000);
  await utimes(path.join(path.dirname(outfile), chunk!), past, past);
  await writeFile(path.join(dir, 'late.ts'), "export const said = (): string => 'late three';\n");
  t.is(await start(), 'late three');
  const third = await chunksOf();
  t.false(third.includes(chunk!));
  t.is(third.length, 2);
});
