// webdav-server 2.6.3 crashes the whole process on any request with an untagged `If:` header
// (IfParser calls getFileSystem(undefined)) and inverts its condition lists. Upstream is dormant
// (issue #102, PR #112), so the two one-token fixes are applied after every install; the server
// refuses to start when they are missing (see plugins/box-dav/library-guards.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let target;
try {
  target = path.join(path.dirname(require.resolve('webdav-server/package.json')), 'lib/helper/v2/IfParser.js');
} catch {
  process.exit(0); // not installed (yet): nothing to patch
}
const fixes = [
  ['    if (andArray.length)\n        return (r, callback) => callback(null, true);', '    if (!andArray.length)\n        return (r, callback) => callback(null, true);'],
  ['            if (!orCondition.path) {', '            if (orCondition.path) {'],
];
let source = readFileSync(target, 'utf8');
for (const [broken, fixed] of fixes) {
  if (source.includes(fixed)) continue;
  if (!source.includes(broken)) {
    console.error(`patch-webdav-server: unexpected IfParser.js, cannot apply: ${fixed.trim()}`);
    process.exit(1);
  }
  source = source.replace(broken, fixed);
}
writeFileSync(target, source);
