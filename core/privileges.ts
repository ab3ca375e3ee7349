// Personium's privilege trees: the cell's (namespace `urn:x-personium:xmlns`) and the box's
// (namespace DAV:, but for three of Personium's own). A privilege includes every privilege below
// it; the box's `all` sits below the cell's `root`, so `root` includes everything.

const cellParents = {
  root: null,
  auth: 'root', 'auth-read': 'auth',
  message: 'root', 'message-read': 'message',
  event: 'root', 'event-read': 'event',
  log: 'root', 'log-read': 'log',
  social: 'root', 'social-read': 'social',
  box: 'root', 'box-read': 'box', 'box-install': 'box',
  acl: 'root', 'acl-read': 'acl',
  propfind: 'root',
  rule: 'root', 'rule-read': 'rule',
  sign: 'root',
} as const;

const boxParents = {
  all: 'root',
  read: 'all', 'read-properties': 'read',
  'read-acl': 'all',
  write: 'all', bind: 'write', unbind: 'write', 'write-content': 'write', 'write-properties': 'write',
  'write-acl': 'all',
  exec: 'all',
  'alter-schema': 'all',
  'stream-send': 'all',
  'stream-receive': 'all',
} as const;

export type CellPrivilege = keyof typeof cellParents;
export type BoxPrivilege = keyof typeof boxParents;
export type Privilege = CellPrivilege | BoxPrivilege;

const parents: Record<string, string | null> = { ...cellParents, ...boxParents };

/** Box privileges in Personium's namespace rather than DAV:. */
const personiumBoxPrivileges = new Set<string>(['exec', 'stream-send', 'stream-receive']);

export const personiumNamespaceUri = 'urn:x-personium:xmlns';

export function isCellPrivilege(name: string): name is CellPrivilege {
  return Object.hasOwn(cellParents, name);
}

export function isBoxPrivilege(name: string): name is BoxPrivilege {
  return Object.hasOwn(boxParents, name);
}

/** The namespace a privilege element is written in. */
export function privilegeNamespace(privilege: Privilege): 'DAV:' | typeof personiumNamespaceUri {
  return isCellPrivilege(privilege) || personiumBoxPrivileges.has(privilege) ? personiumNamespaceUri : 'DAV:';
}

/** The privilege named by an element of `namespace`, if it is one. */
export function privilegeOf(namespace: string, local: string): Privilege | undefined {
  if (!Object.hasOwn(parents, local)) return undefined;
  const privilege = local as Privilege;
  return privilegeNamespace(privilege) === namespace ? privilege : undefined;
}

/** Does holding `granted` give `required` (the same, or one of its ancestors is `granted`)? */
export function includes(granted: Privilege, required: Privilege): boolean {
  for (let current: string | null | undefined = required; current; current = parents[current]) {
    if (current === granted) return true;
  }
  return false;
}
