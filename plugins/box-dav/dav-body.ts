// The XML request bodies of box WebDAV (PROPPATCH's propertyupdate, LOCK's lockinfo), read with
// namespaces resolved. Property values are kept as XML text that means the same on its own: every
// element at the top of a value carries the namespace declarations in scope where it was sent.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { personiumError } from '../../core/errors.ts';

export interface PropertyName { namespace: string; local: string }

export interface PropertyInstruction {
  op: 'set' | 'remove';
  name: PropertyName;
  /** The value as XML text (set only). */
  value: string;
}

export interface LockInfo {
  scope: 'exclusive' | 'shared';
  /** The DAV:owner element as XML text, or empty. */
  owner: string;
}

type Node = Record<string, unknown>;
type Scope = Map<string, string>;

const parser = new XMLParser({
  ignoreAttributes: false, attributeNamePrefix: '@', preserveOrder: true, processEntities: false,
  trimValues: false, parseTagValue: false, parseAttributeValue: false, cdataPropName: '#cdata', ignoreDeclaration: true, ignorePiTags: true,
});

const badXml = () => personiumError('PR400-DV-0001');

export function clarkName(name: PropertyName): string {
  return `{${name.namespace}}${name.local}`;
}

export function parseClarkName(key: string): PropertyName | undefined {
  const match = /^\{([^}]*)\}(.+)$/.exec(key);
  return match ? { namespace: match[1]!, local: match[2]! } : undefined;
}

function elementName(node: Node): string | undefined {
  return Object.keys(node).find((key) => key !== ':@' && key !== '#text' && key !== '#cdata');
}

function childrenOf(node: Node): Node[] {
  const name = elementName(node);
  return name ? ((node[name] as Node[]) ?? []) : [];
}

function attributesOf(node: Node): Record<string, string> {
  return (node[':@'] ?? {}) as Record<string, string>;
}

function scopeOf(node: Node, inherited: Scope): Scope {
  let scope = inherited;
  for (const [name, value] of Object.entries(attributesOf(node))) {
    if (name === '@xmlns' || name.startsWith('@xmlns:')) {
      const prefix = name === '@xmlns' ? '' : name.slice('@xmlns:'.length);
      // XML Namespaces 1.0 §3 forbids undeclaring a prefix.
      if (prefix !== '' && value === '') throw badXml();
      if (scope === inherited) scope = new Map(inherited);
      scope.set(prefix, value);
    }
  }
  return scope;
}

function resolve(qualified: string, scope: Scope): PropertyName {
  const colon = qualified.indexOf(':');
  const prefix = colon >= 0 ? qualified.slice(0, colon) : '';
  const namespace = scope.get(prefix);
  if (namespace === undefined && prefix !== '') throw badXml();
  return { namespace: namespace ?? '', local: colon >= 0 ? qualified.slice(colon + 1) : qualified };
}

function elements(nodes: Node[]): Node[] {
  return nodes.filter((node) => elementName(node) !== undefined);
}

function parseDocument(body: string): { root: Node; scope: Scope; name: PropertyName } {
  if (XMLValidator.validate(body) !== true) throw badXml();
  const roots = elements(parser.parse(body) as Node[]);
  if (roots.length !== 1) throw badXml();
  const root = roots[0]!;
  const scope = scopeOf(root, new Map([['xml', 'http://www.w3.org/XML/1998/namespace']]));
  return { root, scope, name: resolve(elementName(root)!, scope) };
}

const escapeAttribute = (text: string) => text.replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** Serialises nodes; `declare` adds the scope's declarations to each top-level element. */
function serialize(nodes: Node[], declare: Scope | undefined): string {
  let out = '';
  for (const node of nodes) {
    if ('#text' in node) {
      out += String(node['#text']);
      continue;
    }
    if ('#cdata' in node) {
      for (const part of node['#cdata'] as Node[]) out += `<![CDATA[${String(part['#text'] ?? '')}]]>`;
      continue;
    }
    const name = elementName(node);
    if (!name) continue;
    const attributes = attributesOf(node);
    let head = `<${name}`;
    if (declare) {
      for (const [prefix, uri] of declare) {
        if (prefix === 'xml') continue;
        const attribute = prefix === '' ? '@xmlns' : `@xmlns:${prefix}`;
        if (!(attribute in attributes)) head += ` ${attribute.slice(1)}="${escapeAttribute(uri)}"`;
      }
    }
    for (const [attribute, value] of Object.entries(attributes)) head += ` ${attribute.slice(1)}="${escapeAttribute(String(value))}"`;
    const children = childrenOf(node);
    out += children.length ? `${head}>${serialize(children, undefined)}</${name}>` : `${head}/>`;
  }
  return out;
}

/** Every set and remove of a DAV:propertyupdate, in document order. */
export function parsePropertyUpdate(body: string): PropertyInstruction[] {
  const { root, scope, name } = parseDocument(body);
  if (name.namespace !== 'DAV:' || name.local !== 'propertyupdate') throw badXml();
  const instructions: PropertyInstruction[] = [];
  for (const action of elements(childrenOf(root))) {
    const actionScope = scopeOf(action, scope);
    const actionName = resolve(elementName(action)!, actionScope);
    if (actionName.namespace !== 'DAV:' || (actionName.local !== 'set' && actionName.local !== 'remove')) continue;
    for (const prop of elements(childrenOf(action))) {
      const propScope = scopeOf(prop, actionScope);
      const propName = resolve(elementName(prop)!, propScope);
      if (propName.namespace !== 'DAV:' || propName.local !== 'prop') throw badXml();
      for (const property of elements(childrenOf(prop))) {
        const propertyScope = scopeOf(property, propScope);
        const value = actionName.local === 'set' ? serialize(childrenOf(property), propertyScope) : '';
        instructions.push({ op: actionName.local, name: resolve(elementName(property)!, propertyScope), value });
      }
    }
  }
  if (instructions.length === 0) throw badXml();
  return instructions;
}

/** A DAV:lockinfo: exclusive or shared write lock, and its owner. */
export function parseLockInfo(body: string): LockInfo {
  const { root, scope, name } = parseDocument(body);
  if (name.namespace !== 'DAV:' || name.local !== 'lockinfo') throw badXml();
  let lockScope: LockInfo['scope'] | undefined;
  let isWrite = false;
  let owner = '';
  for (const child of elements(childrenOf(root))) {
    const childScope = scopeOf(child, scope);
    const childName = resolve(elementName(child)!, childScope);
    if (childName.namespace !== 'DAV:') continue;
    const inner = elements(childrenOf(child)).map((node) => resolve(elementName(node)!, scopeOf(node, childScope)));
    if (childName.local === 'lockscope') {
      const kind = inner.find((item) => item.namespace === 'DAV:')?.local;
      if (kind === 'exclusive' || kind === 'shared') lockScope = kind;
    } else if (childName.local === 'locktype') {
      isWrite = inner.some((item) => item.namespace === 'DAV:' && item.local === 'write');
    } else if (childName.local === 'owner') {
      owner = serialize(childrenOf(child), childScope);
    }
  }
  if (!lockScope || !isWrite) throw badXml();
  return { scope: lockScope, owner };
}
