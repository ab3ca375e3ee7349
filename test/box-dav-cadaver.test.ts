// cadaver (neon) on a box: upload a file whose name has a space and a #, list it, set and read a
// property back by its name, lock and unlock it, download it byte-identical, delete it. cadaver
// speaks only Basic/Digest, so it goes through its `-p` proxy option to a loopback proxy that adds
// the Bearer token. Skipped, saying so, only when cadaver is missing.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startBearerProxy } from './helpers/bearer-proxy.ts';
import { masterToken } from './helpers/unit.ts';
import { box, unitWithBox } from './helpers/box.ts';

const hasCadaver = spawnSync('sh', ['-c', 'command -v cadaver']).status === 0;

function cadaver(args: string[], script: string, home: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('cadaver', args, { env: { ...process.env, HOME: home }, stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk) => { output += String(chunk); });
    child.once('error', reject);
    child.once('close', () => { clearTimeout(timer); resolve(output); });
    child.stdin.end(`${script}\n`);
  });
}

(hasCadaver ? test : test.skip)(`cadaver uploads, lists, sets and reads a property, locks, downloads and deletes a file named "a b#.txt"${hasCadaver ? '' : ' (skipped: cadaver is not installed)'}`, async (t) => {
  const unit = await unitWithBox(t, { unitUrl: '', logLevel: 'warn' });
  const url = await unit.listen();
  const proxy = await startBearerProxy(masterToken, url);
  t.teardown(() => proxy.close());
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-cadaver-box-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  await writeFile(path.join(work, 'a b#.txt'), 'hello cadaver');
  const script = [
    `lcd ${work}`, "put 'a b#.txt' 'a b#.txt'", 'ls', "propset 'a b#.txt' colour red", "propget 'a b#.txt' colour",
    "lock 'a b#.txt'", "discover 'a b#.txt'", "unlock 'a b#.txt'", `get 'a b#.txt' ${path.join(work, 'down.txt')}`, "delete 'a b#.txt'", 'ls', 'quit',
  ].join('\n');
  // Never spawnSync here: the unit answers from this very process.
  const output = await cadaver(['-p', new URL(proxy.url).host, `${url}${box}/`], script, work);
  t.regex(output, /Uploading a b#\.txt to `\/cell1\/box1\/a%20b%23\.txt': \[\.* ?succeeded/);
  t.regex(output, /\n\s+a b#\.txt\s+13 /, 'listed under its whole name');
  t.regex(output, /Value of colour is: red/);
  t.regex(output, /Locking `a b#\.txt': succeeded/);
  t.regex(output, /Lock token <urn:uuid:[0-9a-f-]{36}>/);
  t.regex(output, /Unlocking `a b#\.txt': succeeded/);
  t.is(await readFile(path.join(work, 'down.txt'), 'utf8'), 'hello cadaver');
  t.regex(output, /Deleting `a b#\.txt': succeeded/);
  const lastListing = output.slice(output.lastIndexOf('Listing collection'));
  t.regex(lastListing, /collection is empty/, 'the last listing is empty');
});
