// A zip file as yauzl reads it, through a few cached 1 MiB blocks. yauzl reads a central directory
// record with two small reads and a local header with one more; done as plain positioned reads,
// each is a trip through libuv's thread pool, which dominated the import of a cell of small files.
// Here a small read is served from the block that holds it (one read per MiB of zip, whether
// walking the central directory or the entries in order); large ranges stream from the file. The
// small entries are read synchronously through a window of the file of its own (`zipWindow`), or by
// the file writer threads from the same descriptor.
import { close, fstat, open, read, type BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import yauzl, { type Options, type ZipFile } from 'yauzl';
import { FileWindow } from './local-entry.mjs';

const blockSize = 1024 * 1024;
/** Blocks kept: enough for the central directory walk and a few entries being extracted at once. */
const keptBlocks = 4;
/** Reads of a streamed (large) entry. */
const streamChunk = 256 * 1024;

const readAsync = promisify(read);

function fstatBigint(fd: number): Promise<BigIntStats> {
  return new Promise((resolve, reject) => fstat(fd, { bigint: true }, (error, info) => (error ? reject(error) : resolve(info))));
}

interface Block {
  memory: Buffer;
  data: Promise<Buffer>;
  /** Reads copying out of it: its memory is reused only once it is evicted and has none. */
  users: number;
  evicted: boolean;
}

class BlockReader extends yauzl.RandomAccessReader {
  readonly #blocks = new Map<number, Block>();
  /** Memory of evicted blocks, reused: a new 1 MiB buffer per MiB read would leave the garbage collector far behind. */
  readonly #spare: Buffer[] = [];

  /** Synchronous reads for the small entries, read one after the other. */
  readonly window: FileWindow;

  constructor(private readonly fd: number, readonly size: number) {
    super();
    this.window = new FileWindow(fd);
  }

  #acquire(index: number): Block {
    let block = this.#blocks.get(index);
    if (block) {
      this.#blocks.delete(index); // re-inserted below: the Map's order is the least recently used first
    } else {
      const memory = this.#spare.pop() ?? Buffer.allocUnsafe(blockSize);
      const length = Math.min(blockSize, this.size - index * blockSize);
      const data = readAsync(this.fd, memory, 0, length, index * blockSize).then(({ bytesRead }) => memory.subarray(0, bytesRead));
      const fresh: Block = { memory, data, users: 0, evicted: false };
      data.catch(() => { if (this.#blocks.get(index) === fresh) this.#blocks.delete(index); });
      block = fresh;
    }
    block.users += 1;
    this.#blocks.set(index, block);
    while (this.#blocks.size > keptBlocks) {
      const [oldest, evicted] = this.#blocks.entries().next().value!;
      this.#blocks.delete(oldest);
      evicted.evicted = true;
      this.#recycle(evicted);
    }
    return block;
  }

  #release(block: Block): void {
    block.users -= 1;
    this.#recycle(block);
  }

  #recycle(block: Block): void {
    if (!block.evicted || block.users > 0) return;
    block.users = Number.POSITIVE_INFINITY; // once
    block.data.then(() => { if (this.#spare.length < keptBlocks) this.#spare.push(block.memory); }, () => {});
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (error: Error | null, bytesRead?: number) => void): void {
    if (length > blockSize) {
      read(this.fd, buffer, offset, length, position, (error, bytesRead) => callback(error, bytesRead));
      return;
    }
    void (async () => {
      let copied = 0;
      while (copied < length && position + copied < this.size) {
        const at = position + copied;
        const block = this.#acquire(Math.floor(at / blockSize));
        try {
          const data = await block.data;
          const from = at % blockSize;
          if (from >= data.length) break;
          copied += data.copy(buffer, offset + copied, from, Math.min(data.length, from + length - copied));
        } finally {
          this.#release(block);
        }
      }
      return copied;
    })().then((bytesRead) => callback(null, bytesRead), (error: Error) => callback(error));
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // Its own reads, not fs.createReadStream: the descriptor is shared and must stay open.
    const fd = this.fd;
    let position = start;
    const stream: Readable = new Readable({
      highWaterMark: streamChunk,
      read(size) {
        const length = Math.min(Math.max(size, streamChunk), end - position);
        if (length <= 0) return void stream.push(null);
        readAsync(fd, Buffer.allocUnsafe(length), 0, length, position).then(({ buffer, bytesRead }) => {
          position += bytesRead;
          stream.push(bytesRead ? buffer.subarray(0, bytesRead) : null);
        }, (error: Error) => stream.destroy(error));
      },
    });
    return stream;
  }

  override close(callback: (error: Error | null) => void): void {
    this.#blocks.clear();
    close(this.fd, (error) => callback(error ?? null));
  }
}

const readers = new WeakMap<ZipFile, BlockReader>();
const identities = new WeakMap<ZipFile, FileIdentity>();

/** Which file a zip was read from, and in what state: any write or replacement changes it. */
export interface FileIdentity {
  /** Device, inode, size, modification and change times (ns), as one comparable string. */
  key: string;
  /** The change time, in ms. */
  changedMs: number;
}

function identityOf(info: BigIntStats): FileIdentity {
  return { key: `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`, changedMs: Number(info.ctimeNs / 1_000_000n) };
}

/** The identity of the file at `file` now. */
export async function fileIdentity(file: string): Promise<FileIdentity> {
  return identityOf(await stat(file, { bigint: true }));
}

/** The identity of the file a zip opened by openBlockZip reads, taken when it was opened. */
export function zipIdentity(zip: ZipFile): FileIdentity {
  const identity = identities.get(zip);
  if (!identity) throw new Error('not opened by openBlockZip');
  return identity;
}

/** Opens a zip for yauzl through a BlockReader; `zip.close()` closes the file. */
export async function openBlockZip(file: string, options: Options): Promise<ZipFile> {
  const fd = await promisify(open)(file, 'r');
  try {
    const info = await fstatBigint(fd);
    const size = Number(info.size);
    const reader = new BlockReader(fd, size);
    const zip = await yauzl.fromRandomAccessReaderPromise(reader, size, options);
    readers.set(zip, reader);
    identities.set(zip, identityOf(info));
    return zip;
  } catch (error) {
    close(fd, () => {});
    throw error;
  }
}

/** The size of the file a zip opened by openBlockZip reads, when it was opened. */
export function zipSize(zip: ZipFile): number {
  const reader = readers.get(zip);
  if (!reader) throw new Error('not opened by openBlockZip');
  return reader.size;
}

/** The synchronous window onto a zip opened by openBlockZip; its `fd` may be read by other threads until `zip.close()`. */
export function zipWindow(zip: ZipFile): FileWindow {
  const reader = readers.get(zip);
  if (!reader) throw new Error('not opened by openBlockZip');
  return reader.window;
}
