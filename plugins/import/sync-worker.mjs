// One of the file writer thread's sync threads (see file-writer-worker.mjs): fdatasyncs the files
// and fsyncs the folders it is handed, by path, with synchronous calls, and answers how many it
// did and the first error. Syncs run here rather than on libuv's thread pool so that they never
// queue in front of the reads of the zip that the import's main thread makes meanwhile.
import { closeSync, fdatasyncSync, fsyncSync, openSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (items) => {
  let error;
  for (const { path, folder } of items) {
    try {
      const fd = openSync(path, 'r');
      try {
        if (folder) fsyncSync(fd);
        else fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (failure) {
      error ??= { code: failure.code, message: failure.message };
    }
  }
  parentPort.postMessage({ done: items.length, error });
});
