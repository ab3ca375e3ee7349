// The import's file writer thread (see file-writer.ts). It creates files and folders with
// synchronous calls, one after the other, in the order they arrive, and answers each request
// with its id and, when it failed, the error's code and message. The buffers come back with the
// answers, for the next files. Plain JavaScript, so that the thread starts in a few milliseconds
// without the TypeScript loader.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';

/** A new file ('wx': never over something); its folder is made only when missing. */
function writeNew(target, data) {
  try {
    writeFileSync(target, data, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, data, { flag: 'wx', mode: 0o600 });
  }
}

parentPort.on('message', (requests) => {
  const answers = [];
  const buffers = [];
  for (const { id, target, data } of requests) {
    const answer = { id };
    try {
      if (data === undefined) mkdirSync(target, { recursive: true });
      else writeNew(target, data);
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
