export declare class FileWindow {
  readonly fd: number;
  constructor(fd: number);
  read(buffer: Buffer, position: number): number;
}
export declare function readRawEntry(window: FileWindow, memory: Buffer, at: number, compressedSize: number): Buffer;
export declare function entryData(raw: Buffer, deflated: boolean, size: number): Buffer;
