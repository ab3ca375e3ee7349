import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import test from 'ava';
import { bodyOf, errorBody } from '../core/errors.ts';
import { readChecksumList } from '../plugins/import/checksum-list.ts';
import { ChecksumTable, KeySet, nameKey } from '../plugins/import/key-table.ts';

const sha = (text: string) => createHash('sha256').update(text).digest();

function namesOf(...names: string[]): KeySet {
  const set = new KeySet(names.length);
  for (const name of names) set.insert(nameKey(name));
  return set;
}

/** The text cut into pieces of `size` bytes, as a stream of the zip entry would hand it over. */
function pieces(text: string, size: number): Readable {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return Readable.from(chunks);
}

test('a key set finds what was added, says when a key was there already, and refuses more than its capacity', (t) => {
  const set = new KeySet(3);
  t.false(set.insert(nameKey('a')).existed);
  t.false(set.insert(nameKey('b')).existed);
  t.true(set.insert(nameKey('a')).existed);
  t.true(set.has(nameKey('b')));
  t.false(set.has(nameKey('c')));
  set.insert(nameKey('c'));
  t.is(set.size, 3);
  t.throws(() => set.insert(nameKey('d')), { instanceOf: RangeError });
});

test('the checksum list is read whatever the chunk boundaries, escapes and member order', async (t) => {
  const names = ['20_webdav/__/a/content', '20_webdav/__/é "quoted"/content', '20_webdav/.pmeta'];
  const text = ` {"${names[0]}": {"size": 5, "sha256": "${sha('hello').toString('hex')}"},\n` +
    ` ${JSON.stringify(names[1])} : {"sha256":"${sha('').toString('hex')}","size":0,"extra":[1,{"x":2}]},` +
    ` "${names[2]}":{"size":2,"sha256":"${sha('{}').toString('hex')}"} } `;
  for (const size of [1, 3, 7, 64, 4096]) {
    const { table, missing } = await readChecksumList(pieces(text, size), namesOf(...names), 3, '00_checksums.json');
    t.is(missing, undefined);
    t.is(table.size, 3);
    t.true(table.matches(names[0]!, 5, sha('hello')), `chunks of ${size}`);
    t.true(table.matches(names[1]!, 0, sha('')), `chunks of ${size}`);
    t.true(table.matches(names[2]!, 2, sha('{}')), `chunks of ${size}`);
    t.false(table.matches(names[0]!, 4, sha('hello')));
    t.false(table.matches(names[0]!, 5, sha('hellO')));
  }
});

test('a line that is not a size and a SHA-256 matches no file, and the first name the zip lacks is reported', async (t) => {
  const text = JSON.stringify({ 'x/content': 3, 'y/content': { size: '5', sha256: sha('abcde').toString('hex') }, 'gone/content': { size: 1, sha256: sha('a').toString('hex') }, 'z/content': [1] });
  const { table, missing } = await readChecksumList(pieces(text, 10), namesOf('x/content', 'y/content', 'z/content'), 4, '00_checksums.json');
  t.is(missing, 'gone/content');
  t.true(table.has('x/content'));
  t.false(table.matches('x/content', 3, sha('abc')));
  t.false(table.matches('y/content', 5, sha('abcde')));
  t.false(table.matches('z/content', 1, sha('a')));
});

test('more lines than the zip has files: the list names a missing entry, and memory stays within the capacity', async (t) => {
  const lines = Object.fromEntries(Array.from({ length: 50 }, (_, index) => [`f${index}`, { size: 1, sha256: sha('a').toString('hex') }]));
  const { table, missing } = await readChecksumList(pieces(JSON.stringify(lines), 100), namesOf('f0', 'f1'), 2, '00_checksums.json');
  t.is(missing, 'f2');
  t.is(table.size, 2);
});

test('text that is not JSON gets PR400-CM-0004 with its start, a value that is not an object PR400-SN-0006', async (t) => {
  const names = namesOf('a');
  for (const bad of ['{"a":{"size":1,', '{"a" {}}', '{"a":{}} trailing', '{"a":{"size":1x}}', `{"a":{"size":1,"sha256":"${'0'.repeat(300)}`]) {
    const error = await t.throwsAsync(readChecksumList(pieces(bad, 4), names, 1, '00_checksums.json'));
    t.deepEqual(bodyOf(error), errorBody('PR400-CM-0004', [bad.length > 200 ? `${bad.slice(0, 200)}...` : bad]), bad);
  }
  for (const notObject of ['[]', '2', 'null', '"text"']) {
    const error = await t.throwsAsync(readChecksumList(pieces(notObject, 1), names, 1, '00_checksums.json'));
    t.deepEqual(bodyOf(error), errorBody('PR400-SN-0006', ['00_checksums.json is not an object']), notObject);
  }
});

test('an empty list is an empty table', async (t) => {
  const { table, missing } = await readChecksumList(pieces('{ }', 1), namesOf('a'), 1, '00_checksums.json');
  t.is(table.size, 0);
  t.is(missing, undefined);
  t.false(new ChecksumTable(1).has('a'));
});

test('lines written as Cellar writes them are read whole, between lines that are not, whatever the chunks; a name listed twice keeps its last line', async (t) => {
  const hex = (text: string) => sha(text).toString('hex');
  const names = Array.from({ length: 40 }, (_, index) => (index % 7 === 3 ? `20_webdav/__/tab\there "${index}"/content` : `20_webdav/__/f${index}/content`));
  const lines = names.map((name, index) => (index % 5 === 4
    ? ` ${JSON.stringify(name)} : { "sha256" : "${hex(String(index))}", "size" : ${String(index).length} }`
    : `${JSON.stringify(name)}:{"size":${String(index).length},"sha256":"${hex(String(index))}"}`));
  // The first name again, with another line: the last one holds.
  const text = `{${lines.join(',')},${JSON.stringify(names[0])}:{"size":3,"sha256":"${hex('abc')}"}}`;
  for (const size of [1, 5, 33, 100, 1 << 16]) {
    const { table, missing } = await readChecksumList(pieces(text, size), namesOf(...names), names.length, '00_checksums.json');
    t.is(missing, undefined);
    t.is(table.size, names.length);
    for (const [index, name] of names.entries()) {
      if (index === 0) continue;
      t.true(table.matches(name, String(index).length, sha(String(index))), `${name}, chunks of ${size}`);
    }
    t.true(table.matches(names[0]!, 3, sha('abc')));
    t.false(table.matches(names[0]!, 1, sha('0')));
  }
  // A canonical-looking line with a control character in its name is not JSON.
  const bad = `{"a\u0001":{"size":1,"sha256":"${hex('a')}"}}`;
  const error = await t.throwsAsync(readChecksumList(pieces(bad, 1 << 16), namesOf('a'), 1, '00_checksums.json'));
  t.is(bodyOf(error).code, 'PR400-CM-0004');
});
