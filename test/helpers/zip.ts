// Reads a whole (small) zip with yauzl, the reader the import uses: every entry with its bytes.
import { buffer } from 'node:stream/consumers';
import yauzl from 'yauzl';

export interface ZipEntryRead {
  name: string;
  directory: boolean;
  /** 0 stored, 8 deflated. */
  compressionMethod: number;
  data: Buffer;
}

export async function readZip(file: string): Promise<Map<string, ZipEntryRead>> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, strictFileNames: true, validateEntrySizes: true });
  const entries = new Map<string, ZipEntryRead>();
  try {
    for await (const entry of zip.eachEntry()) {
      const directory = entry.fileName.endsWith('/');
      const data = directory ? Buffer.alloc(0) : await buffer(await zip.openReadStreamPromise(entry));
      entries.set(entry.fileName, { name: entry.fileName, directory, compressionMethod: entry.compressionMethod, data });
    }
  } finally {
    zip.close();
  }
  return entries;
}
