export declare function looksRandom(bytes: Uint8Array): boolean;
