// An import's file writer thread (see file-writer.ts). It creates files and folders with
// synchronous calls, one after the other, in the order they arrive, and answers each request
// with its id and, when it failed, the error's code and message. A small zip entry comes as its
// raw bytes: this thread inflates it when it is deflated, holds it to its declared size, measures
// it (its SHA-256 or its CRC-32, whichever the import checks) and writes it, so that this work
// runs beside the main thread's. A request may name the file's or folder's mode and the file's
// time (a restore of a unit backup gives them). The buffers come back with the answers, for the
// next files. Nothing is synced here: the import syncs the file system once before its swap
// (file-system-sync.ts). Plain JavaScript, so that the thread starts in a few milliseconds
// without the TypeScript loader.
import { createHash } from 'node:crypto';
import { closeSync, futimesSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { DamagedEntryError, inflateEntry } from './inflate-entry.mjs';

/** A new file ('wx': never over something); its folder is made only when missing. */
function writeNew(target, data, mode = 0o600, mtimeMs = undefined) {
  let fd;
  try {
    fd = openSync(target, 'wx', mode);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    mkdirSync(path.dirname(target), { recursive: true });
    fd = openSync(target, 'wx', mode);
  }
  try {
    for (let at = 0; at < data.length;) at += writeSync(fd, data, at, data.length - at);
    if (mtimeMs !== undefined) futimesSync(fd, mtimeMs / 1000, mtimeMs / 1000);
  } finally {
    closeSync(fd);
  }
}

function handle({ target, data, size, deflated, digest, mode, mtimeMs }, answer) {
  if (data === undefined) return void mkdirSync(target, { recursive: true, mode });
  const bytes = deflated ? inflateEntry(data, size) : data;
  if (digest === 'sha256') answer.sha256 = createHash('sha256').update(bytes).digest();
  else if (digest === 'crc32') answer.crc32 = crc32(bytes);
  answer.size = bytes.length;
  writeNew(target, bytes, mode, mtimeMs);
}

parentPort.on('message', (requests) => {
  const answers = [];
  const buffers = [];
  for (const request of requests) {
    const answer = { id: request.id };
    try {
      handle(request, answer);
    } catch (error) {
      answer.code = error.code;
      answer.message = error.message;
      if (error instanceof DamagedEntryError) answer.damaged = true;
    }
    if (request.data !== undefined) {
      answer.buffer = request.data.buffer;
      buffers.push(request.data.buffer);
    }
    answers.push(answer);
  }
  parentPort.postMessage(answers, buffers);
});
