// Which folders an import must fsync, and when: a folder is synced once nothing more will be
// created in it, so that the names of what it holds are on disk, and each folder only once when
// the entries come in the order exports write them (a folder, then what it holds). The folders
// that were written into are kept as a stack of the current path's ancestors; an entry elsewhere
// closes every folder that is not one of its ancestors. Memory is the depth of the tree.

/** Whether `folder` is `inner` or one of its ancestors. */
function holds(folder, inner) {
  return inner === folder || inner.startsWith(folder.endsWith('/') ? folder : `${folder}/`);
}

export class FolderSyncs {
  #open = [];

  /** Something was created in `folder`: returns the folders that are complete now, to be synced. */
  touch(folder) {
    const complete = [];
    while (this.#open.length > 0 && !holds(this.#open.at(-1), folder)) complete.push(this.#open.pop());
    if (this.#open.at(-1) !== folder) this.#open.push(folder);
    return complete;
  }

  /** Every folder still open, innermost first. */
  finish() {
    return this.#open.splice(0).reverse();
  }
}
