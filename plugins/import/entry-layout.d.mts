export declare const entryFields: { readonly offset: 0; readonly compressedSize: 1; readonly size: 2; readonly flags: 3; readonly check: 4; readonly count: 5 };
export declare const entryFlags: { readonly folder: 1; readonly deflated: 2; readonly sha256: 4; readonly listed: 8 };
export declare const copyFields: { readonly offset: 0; readonly size: 1; readonly mode: 2; readonly mtimeMs: 3; readonly folder: 4; readonly count: 5 };
