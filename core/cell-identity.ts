// A cell's identity: its accounts, roles and Account↔Role links (records of the cell's OData
// document, so an import's swap replaces them with the content) and the cell ACL (the `a` of the
// cell's own `.pmeta`, role ids as principals). The cell ACL is read once per content folder and
// kept, so the per-request check reads no file.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { aclFromPmeta, aclToPmeta, type Acl } from './acl.ts';
import type { CellContents, Pmeta } from './cell-content.ts';
import { writeFileDurably } from './json-file.ts';
import type { HashedCredential } from './password-hash.ts';
import type { CellRecord } from './store.ts';

export interface AccountRecord {
  _id: string;
  Name: string;
  Type: string;
  Status: string;
  IPAddressRange: string | null;
  Cell: string | null;
  __published: number;
  __updated: number;
  /** The hidden fields: the password hash, absent for an account without a password. */
  h?: HashedCredential;
}

export interface RoleRecord {
  _id: string;
  Name: string;
  /** The id of the box the role is bound to; null for a role of the whole cell. */
  boxId: string | null;
  __published: number;
  __updated: number;
}

export interface RoleLinkRecord {
  _id: string;
  accountId: string;
  roleId: string;
  __published: number;
  __updated: number;
}

/** The identity part of a cell's OData document. */
export interface IdentityRecords {
  accounts?: AccountRecord[];
  roles?: RoleRecord[];
  links?: RoleLinkRecord[];
}

type Cell = Pick<CellRecord, 'id' | 'contentId'>;

export class CellIdentity {
  readonly #cellAcls = new Map<string, Acl>();

  constructor(private readonly contents: CellContents) {}

  async records(cell: Cell) {
    const document = await this.contents.odata(cell);
    const data = document.data;
    data.accounts ??= [];
    data.roles ??= [];
    data.links ??= [];
    return { document, accounts: data.accounts, roles: data.roles, links: data.links };
  }

  async account(cell: Cell, name: string): Promise<AccountRecord | undefined> {
    const { accounts } = await this.records(cell);
    return accounts.find((account) => account.Name === name);
  }

  /** The ids of the roles linked to the account now (roles are never carried in a token). */
  async rolesOf(cell: Cell, accountId: string): Promise<Set<string>> {
    const { links } = await this.records(cell);
    return new Set(links.filter((link) => link.accountId === accountId).map((link) => link.roleId));
  }

  async cellAcl(cell: Cell): Promise<Acl> {
    const key = this.contents.contentDir(cell);
    let acl = this.#cellAcls.get(key);
    if (!acl) {
      acl = aclFromPmeta((await this.#readCellPmeta(cell)).a);
      this.#cellAcls.set(key, acl);
    }
    return acl;
  }

  async setCellAcl(cell: Cell, acl: Acl): Promise<Pmeta> {
    const pmeta = await this.#readCellPmeta(cell);
    const updated: Pmeta = { ...pmeta, a: aclToPmeta(acl), u: Date.now() };
    await writeFileDurably(path.join(this.contents.davRoot(cell), '.pmeta'), JSON.stringify(updated));
    this.#cellAcls.set(this.contents.contentDir(cell), acl);
    return updated;
  }

  async #readCellPmeta(cell: Cell): Promise<Pmeta> {
    return JSON.parse(await readFile(path.join(this.contents.davRoot(cell), '.pmeta'), 'utf8')) as Pmeta;
  }
}
