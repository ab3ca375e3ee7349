// The import's file writer thread (see file-writer.ts). It creates files and folders with
// synchronous calls, one after the other, in the order they arrive, and answers each request
// with its id and, when it failed, the error's code and message. The buffers come back with the
// answers, for the next files. A request may name the file's or folder's mode and the file's time
// (a restore of a unit backup gives them). Nothing is synced here: the import syncs the file system once
// before its swap (file-system-sync.ts). Plain JavaScript, so that the thread starts in a few
// milliseconds without the TypeScript loader.
import { closeSync, futimesSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';

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

parentPort.on('message', (requests) => {
  const answers = [];
  const buffers = [];
  for (const { id, target, data, mode, mtimeMs } of requests) {
    const answer = { id };
    try {
      if (data === undefined) mkdirSync(target, { recursive: true, mode });
      else writeNew(target, data, mode, mtimeMs);
    } catch (error) {
      answer.code = error.code;
      answer.message = error.message;
    }
    if (data !== undefined) {
      answer.buffer = data.buffer;
      buffers.push(data.buffer);
    }
    answers.push(answer);
  }
  parentPort.postMessage(answers, buffers);
});
