export interface TreeItem {
  kind: 'directory' | 'file';
  /** Path below the tree's root, with '/' separators; '' for the root itself. */
  relative: string;
  absolute: string;
}

export interface TreeTotals {
  files: number;
  directories: number;
  bytes: number;
  largestFile: number;
}

export declare function isExported(name: string): boolean;
export declare function walkTree(root: string): Generator<TreeItem>;
export declare function measureSteps(root: string): Generator<undefined, TreeTotals>;
export declare function measureTree(root: string): TreeTotals;
