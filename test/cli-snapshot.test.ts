import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { workspace } from './helpers/cli.ts';

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** A workspace whose folder holds `data.bin`, 2 MiB and 123 bytes of random data. */
async function setUp(t: { teardown(fn: () => Promise<void>): void }) {
  const space = await workspace(t);
  const data = path.join(space.dir, 'data.bin');
  await writeFile(data, randomBytes(2 * 1024 * 1024 + 123));
  return { ...space, data };
}

test('snapshot put uploads a file, ls lists it, get downloads it byte for byte and rm deletes it', async (t) => {
  const { dir, data, run } = await setUp(t);
  const put = await run(['snapshot', 'put', 'cell1', data]);
  t.is(put.code, 0, put.stderr);
  t.is(put.stdout, 'uploaded data.bin in the snapshot area of cell1 (2.0 MiB)\n');
  const listed = await run(['snapshot', 'ls', 'cell1']);
  t.regex(listed.stdout, /^2097275  \S.* data\.bin\n$/);
  const got = await run(['snapshot', 'get', 'cell1', 'data.bin', 'copy.bin']);
  t.is(got.code, 0, got.stderr);
  t.is(got.stdout, 'saved data.bin to copy.bin (2.0 MiB)\n');
  t.is(await sha256(path.join(dir, 'copy.bin')), await sha256(data));
  const removed = await run(['snapshot', 'rm', 'cell1', 'data.bin']);
  t.like(removed, { code: 0, stdout: 'deleted data.bin from the snapshot area of cell1\n' });
  t.like(await run(['snapshot', 'ls', 'cell1']), { code: 0, stdout: 'no files in the snapshot area of cell1\n' });
});

test('snapshot get without OUT saves the file under its own name in the current folder', async (t) => {
  const { dir, data, run } = await setUp(t);
  await run(['snapshot', 'put', 'cell1', data, '--as', 'other.bin']);
  t.is((await run(['snapshot', 'get', 'cell1', 'other.bin'])).code, 0);
  t.is(await sha256(path.join(dir, 'other.bin')), await sha256(data));
});

test('snapshot ls --json gives name, size, type and dates of every file', async (t) => {
  const { data, run } = await setUp(t);
  await run(['snapshot', 'put', 'cell1', data]);
  await run(['snapshot', 'put', 'cell1', data, '--as', 'a.zip']);
  const files = JSON.parse((await run(['--json', 'snapshot', 'ls', 'cell1'])).stdout);
  t.deepEqual(files.map((file: { name: string; size: number }) => [file.name, file.size]), [['a.zip', 2097275], ['data.bin', 2097275]]);
  t.is(files[0].contentType, 'application/zip');
  t.truthy(Date.parse(files[0].lastModified));
  t.regex(files[0].etag, /^"/);
});

test('snapshot get resumes a partial download with Range and the result is byte-identical', async (t) => {
  const { dir, data, run } = await setUp(t);
  await run(['snapshot', 'put', 'cell1', data]);
  const out = path.join(dir, 'partial.bin');
  await writeFile(out, (await readFile(data)).subarray(0, 777_777));
  const got = await run(['snapshot', 'get', 'cell1', 'data.bin', out]);
  t.is(got.code, 0, got.stderr);
  t.is(got.stdout, `saved data.bin to ${out} (2.0 MiB, resumed at byte 777777)\n`);
  t.is(await sha256(out), await sha256(data));
  t.deepEqual((await readdir(dir)).sort(), ['data.bin', 'partial.bin'], 'no marker is left once the download is complete');
});

test('snapshot get of a file that is already complete transfers nothing', async (t) => {
  const { data, run } = await setUp(t);
  await run(['snapshot', 'put', 'cell1', data]);
  const again = await run(['snapshot', 'get', 'cell1', 'data.bin', data]);
  t.like(again, { code: 0, stdout: `${data} is already complete (2.0 MiB)\n` });
});

test('snapshot get starts over when the local file is longer than the remote one', async (t) => {
  const { dir, data, run } = await setUp(t);
  await run(['snapshot', 'put', 'cell1', data]);
  const out = path.join(dir, 'longer.bin');
  await writeFile(out, randomBytes(3 * 1024 * 1024));
  const got = await run(['snapshot', 'get', 'cell1', 'data.bin', out]);
  t.is(got.stdout, `saved data.bin to ${out} (2.0 MiB)\n`);
  t.is(await sha256(out), await sha256(data));
});

test('a partial download of an older version starts over instead of mixing versions', async (t) => {
  const { dir, data, run } = await setUp(t);
  await writeFile(path.join(dir, 'v1.bin'), randomBytes(3 * 1024 * 1024));
  await run(['snapshot', 'put', 'cell1', path.join(dir, 'v1.bin'), '--as', 'file.bin']);
  const etag = JSON.parse((await run(['--json', 'snapshot', 'ls', 'cell1'])).stdout)[0].etag as string;
  // What an interrupted `get` leaves: the first bytes of version 1 and the marker naming its ETag.
  const out = path.join(dir, 'file.bin');
  await writeFile(out, (await readFile(path.join(dir, 'v1.bin'))).subarray(0, 1000));
  await writeFile(path.join(dir, '.file.bin.cellar-etag'), `${etag}\n`);
  await run(['snapshot', 'put', 'cell1', data, '--as', 'file.bin']);
  const got = await run(['snapshot', 'get', 'cell1', 'file.bin']);
  t.is(got.stdout, 'saved file.bin to file.bin (2.0 MiB)\n');
  t.is(await sha256(out), await sha256(data));
});

test('snapshot put over an existing file replaces it', async (t) => {
  const { dir, data, run } = await setUp(t);
  await run(['snapshot', 'put', 'cell1', data]);
  await writeFile(data, 'shorter now');
  const replaced = await run(['--json', 'snapshot', 'put', 'cell1', data]);
  t.like(JSON.parse(replaced.stdout), { name: 'data.bin', size: 11, created: false });
  await run(['snapshot', 'get', 'cell1', 'data.bin', 'back.txt']);
  t.is(await readFile(path.join(dir, 'back.txt'), 'utf8'), 'shorter now');
});

test('without a terminal, transfers report progress as plain lines on stderr; --json prints none', async (t) => {
  const { data, run } = await setUp(t);
  const put = await run(['snapshot', 'put', 'cell1', data]);
  t.regex(put.stderr, /^put data\.bin: 0% \(0 B of 2\.0 MiB\)\n/);
  t.regex(put.stderr, /\nput data\.bin: 100% \(2\.0 MiB of 2\.0 MiB\)\n$/);
  const got = await run(['--json', 'snapshot', 'get', 'cell1', 'data.bin', 'copy.bin']);
  t.is(got.stderr, '');
  t.like(JSON.parse(got.stdout), { file: 'data.bin', out: 'copy.bin', size: 2097275, resumedFrom: 0 });
});

test("missing files and refused names are reported with the unit's code and exit code 1", async (t) => {
  const { run } = await setUp(t);
  const get = await run(['snapshot', 'get', 'cell1', 'nope.zip']);
  t.is(get.code, 1);
  t.regex(get.stderr, /^cellar: PR404-DV-0001 .*\(HTTP 404\)\n$/);
  const rm = await run(['snapshot', 'rm', 'cell1', 'nope.zip']);
  t.is(rm.code, 1);
  t.regex(rm.stderr, /^cellar: PR404-DV-0001 /);
  const ls = await run(['snapshot', 'ls', 'nocell']);
  t.is(ls.code, 1);
  t.regex(ls.stderr, /^cellar: PR404-DV-0003 Cell not found\./);
  const hidden = await run(['snapshot', 'rm', 'cell1', '.hidden']);
  t.is(hidden.code, 1);
  t.regex(hidden.stderr, /^cellar: PR4\d\d-/);
});

test('snapshot put of a local file that does not exist is a usage error', async (t) => {
  const { run } = await setUp(t);
  t.like(await run(['snapshot', 'put', 'cell1', 'missing.zip']), { code: 2, stderr: 'cellar: no such file: missing.zip\n' });
});
