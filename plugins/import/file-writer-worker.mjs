// An import's file writer thread (see file-writer.ts). It creates files and folders with
// synchronous calls, one after the other, in the order they arrive. Two kinds of message come:
// - requests, each a file's bytes to create, answered each with its id and, when it failed, the
//   error's code and message; its buffer comes back with the answer, for the next files;
// - batches of small zip entries (entry-batches.ts), which this thread reads itself from the zip's
//   descriptor, inflates, holds to their declared size and to the digest the import checks (the
//   SHA-256 and size of their line in 00_checksums.json, or else the zip's CRC-32), and writes,
//   stopping at the first that fails; a batch is answered once, with that failure if any;
// - batches of a unit backup's entries (copyFields), which this thread reads from the archive's
//   descriptor and hashes (SHA-256), writing each to its target when the batch has targets (a
//   restore; a verify only hashes); answered once, with every digest and the first failure if any.
// Nothing is synced here: the import syncs the file system once before its swap
// (file-system-sync.ts). Plain JavaScript, so that the thread starts in a few milliseconds
// without the TypeScript loader.
import { createHash, hash } from 'node:crypto';
import { closeSync, futimesSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { DamagedEntryError } from './inflate-entry.mjs';
import { entryData, FileWindow, readRawEntry } from './local-entry.mjs';
import { copyFields, entryFields, entryFlags } from './entry-layout.mjs';

/** Opens a new file ('wx': never over something); its folder is made only when missing. */
function openNew(target, mode) {
  try {
    return openSync(target, 'wx', mode);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    mkdirSync(path.dirname(target), { recursive: true });
    return openSync(target, 'wx', mode);
  }
}

function writeAll(fd, data, length = data.length) {
  for (let at = 0; at < length;) at += writeSync(fd, data, at, length - at);
}

/** A new file ('wx': never over something, mode 0600); its folder is made only when missing. */
function writeNew(target, data) {
  const fd = openNew(target, 0o600);
  try {
    writeAll(fd, data);
  } finally {
    closeSync(fd);
  }
}

function answerRequests(requests) {
  const answers = [];
  const buffers = [];
  for (const { id, target, data } of requests) {
    const answer = { id, buffer: data.buffer };
    try {
      writeNew(target, data);
    } catch (error) {
      answer.code = error.code;
      answer.message = error.message;
    }
    buffers.push(data.buffer);
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

/** The job the window belongs to (FileWriters.rest): a new job's zip may have the old one's descriptor number. */
let windowUse;

function extractBatch({ batch, use, fd, targets, numbers, digests }) {
  if (window?.fd !== fd || windowUse !== use) {
    window = new FileWindow(fd);
    windowUse = use;
  }
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

/** Fills `memory` with `length` bytes of the archive from `position` (a read may return fewer). */
function readFully(fd, length, position) {
  for (let at = 0; at < length;) {
    const read = readSync(fd, memory, at, length - at, position + at);
    if (read === 0) throw Object.assign(new Error('the archive ends inside the entry'), { code: 'ETRUNCATED' });
    at += read;
  }
}

/** The SHA-256 of `size` bytes of the archive from `offset`, written to `out` (a descriptor) too when given. */
function copyRange(fd, offset, size, out) {
  if (size <= memory.length) {
    readFully(fd, size, offset);
    if (out !== undefined) writeAll(out, memory, size);
    return hash('sha256', memory.subarray(0, size), 'buffer');
  }
  const digest = createHash('sha256');
  for (let done = 0; done < size;) {
    const length = Math.min(memory.length, size - done);
    readFully(fd, length, offset + done);
    digest.update(memory.subarray(0, length));
    if (out !== undefined) writeAll(out, memory, length);
    done += length;
  }
  return digest.digest();
}

function copyBatch({ copies, fd, targets, numbers }) {
  memory ??= Buffer.allocUnsafe(1024 * 1024 + 64);
  const count = numbers.length / copyFields.count;
  const names = targets === undefined ? undefined : targets.split('\0');
  const digests = new Uint8Array(count * 32);
  let failure;
  // One target per entry, or none of the batch is written.
  if (names && names.length !== count) failure = { index: 0, message: 'a batch whose targets do not match its entries' };
  for (let index = 0; index < count && !failure; index += 1) {
    const at = index * copyFields.count;
    const mode = numbers[at + copyFields.mode];
    let out;
    try {
      if (numbers[at + copyFields.folder]) {
        if (names) mkdirSync(names[index], { recursive: true, mode });
        continue;
      }
      if (names) out = openNew(names[index], mode);
      digests.set(copyRange(fd, numbers[at + copyFields.offset], numbers[at + copyFields.size], out), index * 32);
      if (out !== undefined) {
        const seconds = numbers[at + copyFields.mtimeMs] / 1000;
        futimesSync(out, seconds, seconds);
      }
    } catch (error) {
      failure = { index, message: error.message, code: error.code };
    } finally {
      if (out !== undefined) closeSync(out);
    }
  }
  parentPort.postMessage({ copies, digests, failure }, [digests.buffer]);
}

parentPort.on('message', (message) => {
  if (Array.isArray(message)) answerRequests(message);
  else if (message.copies !== undefined) copyBatch(message);
  else extractBatch(message);
});
