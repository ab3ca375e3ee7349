import path from 'node:path';
import test from 'ava';
import { confine, confineBelow } from '../core/confine.ts';

test('confineBelow gives what resolving gives for plain segments, and what confine gives for any other', (t) => {
  const root = path.resolve('/data/cells/c1/dav');
  const cases: string[][] = [[], ['__'], ['__', 'folder', 'file.txt', 'content'], ['box', 'a b', 'é', '...', '.pmeta'], ['a\\b']];
  for (const segments of cases) t.is(confineBelow(root, segments), path.resolve(root, ...segments), segments.join('|'));
  for (const segments of [['a', '.', 'b'], ['a', '', 'b'], ['a/b', 'c'], ['x', '..', 'y']]) t.is(confineBelow(root, segments), confine(root, ...segments), segments.join('|'));
  t.is(confineBelow('/', ['a']), '/a');
});

test('no segment takes confineBelow or confine out of the root, nor to a sibling that shares its prefix', (t) => {
  const root = path.resolve('/data/cells');
  // NUL: no file system takes it, and where targets travel joined by NUL it would split one in two.
  for (const segments of [['..'], ['a', '..', '..', 'etc'], ['/etc/passwd'], ['..', 'cells-evil'], ['a/../../b'], ['x\0', 'etc'], ['a\0/tmp/evil']]) {
    t.throws(() => confineBelow(root, segments), { message: /escapes its root/ }, segments.join('|'));
    t.throws(() => confine(root, ...segments), { message: /escapes its root/ }, segments.join('|'));
  }
  t.is(confineBelow(root, ['a', '..', 'b']), path.join(root, 'b'));
});
