// The import's file writer thread (see file-writer.ts). It creates files and folders with
// synchronous calls, one after the other, in the order they arrive, and answers each request
// with its id and, when it failed, the error's code and message. The buffers come back with the
// answers, for the next files. Every file it writes is fdatasynced, and every folder it wrote
// into fsynced once complete (folder-syncs.mjs), on the thread pool while the next files are
// written: a `flush` request is answered once all of it is on disk, so the import waits for its
// own files only, never for what other programs left unwritten on the same disk. Plain
// JavaScript, so that the thread starts in a few milliseconds without the TypeScript loader.
import { close, closeSync, fdatasync, fsync, mkdirSync, open, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { FolderSyncs } from './folder-syncs.mjs';

/** Syncs waiting on the thread pool at most; past this the thread waits before writing more. */
const syncsInFlight = 16;

const folders = new FolderSyncs();
let inFlight = 0;
let syncFailure;
let wakeUp;

function settled(error) {
  inFlight -= 1;
  if (error && !syncFailure) syncFailure = error;
  wakeUp?.();
}

function syncFile(fd) {
  inFlight += 1;
  fdatasync(fd, (error) => close(fd, () => settled(error)));
}

function syncFolders(list) {
  for (const folder of list) {
    inFlight += 1;
    open(folder, 'r', (openError, fd) => {
      if (openError) return settled(openError);
      fsync(fd, (error) => close(fd, () => settled(error)));
    });
  }
}

function touched(folder) {
  syncFolders(folders.touch(folder));
}

/** Waits until at most `limit` syncs are in flight. */
async function syncsBelow(limit) {
  while (inFlight > limit) await new Promise((resolve) => { wakeUp = resolve; });
  wakeUp = undefined;
}

/** Makes `folder` and any missing parent, noting every folder written into. */
function makeFolder(folder) {
  const first = mkdirSync(folder, { recursive: true });
  if (first === undefined) return;
  const created = [];
  for (let at = folder; at.length >= first.length; at = path.dirname(at)) created.unshift(at);
  for (const made of created) touched(path.dirname(made));
}

/** A new file ('wx': never over something); its folder is made only when missing. */
function writeNew(target, data) {
  let fd;
  try {
    fd = openSync(target, 'wx', 0o600);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    makeFolder(path.dirname(target));
    fd = openSync(target, 'wx', 0o600);
  }
  try {
    for (let at = 0; at < data.length;) at += writeSync(fd, data, at, data.length - at);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  touched(path.dirname(target));
  syncFile(fd);
}

async function handle(requests) {
  const answers = [];
  const buffers = [];
  for (const { id, target, data, flush } of requests) {
    const answer = { id };
    try {
      if (flush) {
        syncFolders(folders.finish());
        await syncsBelow(0);
        if (syncFailure) throw syncFailure;
      } else if (data === undefined) {
        makeFolder(target);
      } else {
        writeNew(target, data);
      }
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
  await syncsBelow(syncsInFlight);
}

let turn = Promise.resolve();
parentPort.on('message', (requests) => {
  turn = turn.then(() => handle(requests));
});
