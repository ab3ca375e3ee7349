// An import's file writer thread (see file-writer.ts). It creates files and folders with
// synchronous calls, one after the other, in the order they arrive. Two kinds of message come:
// - requests, each a file's bytes (or a folder) to create, answered each with its id and, when it
//   failed, the error's code and message; a request may name the mode and the time (a restore of a
//   unit backup gives them), and its buffer comes back with the answer, for the next files;
// - batches of small zip entries (entry-batches.ts), which this thread reads itself from the zip's
//   descriptor, inflates, holds to their declared size and to the digest the import checks (the
//   SHA-256 and size of their line in 00_checksums.json, or else the zip's CRC-32), and writes,
//   stopping at the first that fails; a batch is answered once, with that failure if any.
// Nothing is synced here: the import syncs the file system once before its swap
// (file-system-sync.ts). Plain JavaScript, so that the thread starts in a few milliseconds
// without the TypeScript loader.
import { hash } from 'node:crypto';
import { closeSync, futimesSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { DamagedEntryError } from './inflate-entry.mjs';
import { entryData, FileWindow, readRawEntry } from './local-entry.mjs';
import { entryFields, entryFlags } from './entry-layout.mjs';

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

function answerRequests(requests) {
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
}

let window;
let memory;

/** Whether an entry's data holds to what the import checks it against. */
function digestHeld(data, flags, numbers, at, digests, index) {
  if (!(flags & entryFlags.sha256)) return crc32(data) === numbers[at + entryFields.check];
  if (!(flags & entryFlags.listed) || data.length !== numbers[at + entryFields.check]) return false;
  return hash('sha256', data, 'buffer').equals(digests.subarray(index * 32, index * 32 + 32));
}

function extractBatch({ batch, fd, targets, numbers, digests }) {
  if (window?.fd !== fd) window = new FileWindow(fd);
  memory ??= Buffer.allocUnsafe(1024 * 1024 + 64);
  const names = targets.split('\0');
  let failure;
  // One target per entry, or none of the batch is written.
  if (names.length * entryFields.count !== numbers.length) failure = { index: 0, kind: 'io', message: 'a batch whose targets do not match its entries' };
  for (let index = 0; index < names.length && !failure; index += 1) {
    const at = index * entryFields.count;
    const flags = numbers[at + entryFields.flags];
    try {
      if (flags & entryFlags.folder) {
        mkdirSync(names[index], { recursive: true });
        continue;
      }
      const raw = readRawEntry(window, memory, numbers[at + entryFields.offset], numbers[at + entryFields.compressedSize]);
      const data = entryData(raw, (flags & entryFlags.deflated) !== 0, numbers[at + entryFields.size]);
      if (digestHeld(data, flags, numbers, at, digests, index)) writeNew(names[index], data);
      else failure = { index, kind: 'digest' };
    } catch (error) {
      failure = error instanceof DamagedEntryError ? { index, kind: 'damaged', message: error.message } : { index, kind: 'io', message: error.message, code: error.code };
    }
  }
  parentPort.postMessage({ batch, failure });
}

parentPort.on('message', (message) => {
  if (Array.isArray(message)) answerRequests(message);
  else extractBatch(message);
});
