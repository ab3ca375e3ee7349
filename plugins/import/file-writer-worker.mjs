// The import's file writer thread (see file-writer.ts). It creates files and folders with
// synchronous calls, one after the other, in the order they arrive, and answers each request
// with its id and, when it failed, the error's code and message. The buffers come back with the
// answers, for the next files. Every file it writes is fdatasynced, and every folder it wrote
// into fsynced once complete (folder-syncs.mjs), by sync threads of its own (sync-worker.mjs)
// while the next files are written: a `flush` request is answered once all of it is on disk, so the import waits for its
// own files only, never for what other programs left unwritten on the same disk. Plain
// JavaScript, so that the thread starts in a few milliseconds without the TypeScript loader.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parentPort, Worker } from 'node:worker_threads';
import { FolderSyncs } from './folder-syncs.mjs';

/** Syncs handed out and not done at most; past this the thread waits before writing more. */
const syncsInFlight = 64;
/** Threads that sync: concurrent syncs of one file system share its journal commits. */
const syncThreads = 3;
/** Syncs sent to a sync thread at once. */
const syncBatch = 8;

const folders = new FolderSyncs();
const syncers = Array.from({ length: syncThreads }, () => new Worker(new URL('./sync-worker.mjs', import.meta.url)));
let nextSyncer = 0;
let batch = [];
let inFlight = 0;
let syncFailure;
let wakeUp;

for (const syncer of syncers) {
  syncer.on('message', ({ done, error }) => {
    inFlight -= done;
    if (error && !syncFailure) syncFailure = Object.assign(new Error(error.message), { code: error.code });
    wakeUp?.();
  });
  // A sync thread that stops answers nothing more: what it held can no longer be waited for.
  syncer.on('error', (error) => {
    syncFailure ??= error;
    wakeUp?.();
  });
}

function sendSyncs() {
  if (batch.length === 0) return;
  syncers[nextSyncer].postMessage(batch);
  nextSyncer = (nextSyncer + 1) % syncers.length;
  batch = [];
}

function sync(target, folder) {
  inFlight += 1;
  batch.push({ path: target, folder });
  if (batch.length >= syncBatch) sendSyncs();
}

function syncFolders(list) {
  for (const folder of list) sync(folder, true);
}

function touched(folder) {
  syncFolders(folders.touch(folder));
}

/** Waits until at most `limit` syncs are in flight. */
async function syncsBelow(limit) {
  sendSyncs();
  while (inFlight > limit && !syncFailure) await new Promise((resolve) => { wakeUp = resolve; });
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
  } finally {
    closeSync(fd);
  }
  touched(path.dirname(target));
  sync(target, false);
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
