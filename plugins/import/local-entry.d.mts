export declare class FileWindow {
  readonly fd: number;
  constructor(fd: number);
  read(buffer: Buffer, position: number): number;
  view(position: number, length: number): Buffer;
}
export declare function readRawEntry(window: FileWindow, memory: Buffer, at: number, compressedSize: number): Buffer;
export declare function entryData(raw: Buffer, deflated: boolean, size: number): Buffer;
