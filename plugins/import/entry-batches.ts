// The folders and small files of an import, handed to the file writer threads in batches of
// `batchEntries`: each thread reads its entries from the zip's descriptor itself, inflates them,
// holds them to their digest and writes them (file-writer-worker.mjs), so that the main thread
// only walks the central directory and packs a few numbers per entry. Handing each entry over with
// its bytes and its own promise and answer cost more than writing it, at 30,000 entries. A
// resource's folder and files go to the thread its folder's name picks, the batches of each
// thread filling apart, and sent when full or when the walk pauses; at most `batchesInFlight` are
// out at once, so the walk waits when the threads are behind. The first failure is kept and
// thrown by the next `add` or by `drain`, as the error the entry would have had on the main thread.
import path from 'node:path';
import type { Entry } from 'yauzl';
import { personiumError, type PersoniumError } from '../../core/errors.ts';
import { entryFields, entryFlags } from './entry-layout.mjs';
import type { EntryFailure, FileWriters } from './file-writer.ts';
import type { ChecksumTable } from './key-table.ts';
import { digestMismatch } from './snapshot-checks.ts';

const batchEntries = 128;
const batchesInFlight = 6;

/** A batch being filled for one thread. */
class Filling {
  readonly names: string[] = [];
  readonly targets: string[] = [];
  readonly numbers = new Float64Array(batchEntries * entryFields.count);
  readonly digests: Uint8Array | undefined;
  /** Expanded bytes of its files, for the progress. */
  bytes = 0;

  constructor(listed: boolean) {
    this.digests = listed ? new Uint8Array(batchEntries * 32) : undefined;
  }
}

export class EntryBatches {
  readonly #filling: Filling[];
  readonly #out = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  /** `fd` is the zip's, open until the batches are drained; `onWritten` hears of each batch written: its files' bytes, its files and folders. */
  constructor(private readonly files: FileWriters, private readonly fd: number, private readonly checksums: ChecksumTable | undefined, private readonly onWritten: (bytes: number, entries: number) => void) {
    this.#filling = Array.from({ length: files.lanes }, () => new Filling(checksums !== undefined));
  }

  /**
   * Adds a folder entry, or a small file entry with its slot in the checksum list (requireListed);
   * returns a promise when the caller must wait for the threads before adding more.
   */
  add(entry: Entry, target: string, slot: number): Promise<void> | undefined {
    if (this.#failure) throw this.#failure.error;
    // The targets go over joined by NUL: one in a target would shift every entry after it.
    if (target.includes('\0')) throw new Error(`NUL in a target path: ${JSON.stringify(target)}`);
    const folder = entry.fileName.endsWith('/');
    const lane = this.files.laneOf(folder ? target : path.dirname(target));
    const batch = this.#filling[lane]!;
    const index = batch.names.length;
    const at = index * entryFields.count;
    const numbers = batch.numbers;
    let flags = folder ? entryFlags.folder : 0;
    if (entry.compressionMethod === 8) flags |= entryFlags.deflated;
    numbers[at + entryFields.offset] = entry.relativeOffsetOfLocalHeader;
    numbers[at + entryFields.compressedSize] = entry.compressedSize;
    numbers[at + entryFields.size] = entry.uncompressedSize;
    if (this.checksums && !folder) {
      const size = this.checksums.copyLine(slot, batch.digests!, index * 32);
      flags |= entryFlags.sha256 | (size === -1 ? 0 : entryFlags.listed);
      numbers[at + entryFields.check] = size;
    } else {
      numbers[at + entryFields.check] = entry.crc32;
    }
    numbers[at + entryFields.flags] = flags;
    batch.names.push(entry.fileName);
    batch.targets.push(target);
    batch.bytes += entry.uncompressedSize;
    return index + 1 === batchEntries ? this.#send(lane) : undefined;
  }

  /** Sends the batches being filled, however few entries they hold: the walk is about to pause. */
  async flush(): Promise<void> {
    for (let lane = 0; lane < this.#filling.length; lane += 1) {
      if (this.#filling[lane]!.names.length > 0) await this.#send(lane);
    }
  }

  /** Waits for the batches sent, sending no more; throws the first failure. */
  async settle(): Promise<void> {
    await Promise.all(this.#out);
    if (this.#failure) throw this.#failure.error;
  }

  /** Sends what is left and waits for every batch; throws the first failure. */
  async drain(): Promise<void> {
    await this.flush();
    await Promise.all(this.#out);
    if (this.#failure) throw this.#failure.error;
  }

  async #send(lane: number): Promise<void> {
    const batch = this.#filling[lane]!;
    this.#filling[lane] = new Filling(this.checksums !== undefined);
    while (this.#out.size >= batchesInFlight) await Promise.race(this.#out);
    if (this.#failure) throw this.#failure.error;
    const count = batch.names.length;
    const answered = this.files.extract(lane, {
      fd: this.fd,
      targets: batch.targets.join('\0'),
      numbers: batch.numbers.subarray(0, count * entryFields.count),
      digests: batch.digests?.subarray(0, count * 32),
    });
    const out: Promise<void> = answered.then((failure) => {
      if (failure) throw this.#errorOf(failure, batch.names[failure.index]!);
      this.onWritten(batch.bytes, count);
    }).catch((error: unknown) => { this.#failure ??= { error }; }).finally(() => this.#out.delete(out));
    this.#out.add(out);
  }

  /** The error the entry would have had, read and written on the main thread. */
  #errorOf(failure: EntryFailure, name: string): PersoniumError | Error {
    if (failure.kind === 'digest') return digestMismatch(name, this.checksums !== undefined);
    if (failure.kind === 'damaged') return personiumError('PR400-SN-0006', `${name}: ${failure.message}`);
    return Object.assign(new Error(failure.message ?? 'the file could not be written'), { code: failure.code });
  }
}
