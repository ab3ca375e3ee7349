export declare class DamagedEntryError extends Error {}
export declare function inflateEntry(raw: Uint8Array, size: number): Buffer;
