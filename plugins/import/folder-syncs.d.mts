// Types of folder-syncs.mjs, which the file writer thread runs as plain JavaScript.
export declare class FolderSyncs {
  touch(folder: string): string[];
  finish(): string[];
}
