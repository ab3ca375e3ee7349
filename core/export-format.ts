// The snapshot file's layout (Personium's export_version 2), named once so the export
// that writes it and the import that reads it cannot drift apart.

export const snapshotExportVersion = 2;

export const manifestEntry = '00_manifest.json';
/** Cellar's addition: size and SHA-256 of every file entry. */
export const checksumsEntry = '00_checksums.json';
export const odataFolder = '10_odata/';
export const cellEntry = `${odataFolder}00_cell.json`;
export const webdavFolder = '20_webdav/';

/** The 16 `.pjson` files, in Personium's order, with the `_type` of their lines. */
export const pjsonFiles = [
  ['10_box.pjson', 'Box'],
  ['11_account.pjson', 'Account'],
  ['12_extcell.pjson', 'ExtCell'],
  ['20_role.pjson', 'Role'],
  ['21_rule.pjson', 'Rule'],
  ['22_relation.pjson', 'Relation'],
  ['23_sentmessage.pjson', 'SentMessage'],
  ['24_receivedmessage.pjson', 'ReceivedMessage'],
  ['30_extrole.pjson', 'ExtRole'],
  ['40_entitytype.pjson', 'EntityType'],
  ['41_complextype.pjson', 'ComplexType'],
  ['50_property.pjson', 'Property'],
  ['51_complextypeproperty.pjson', 'ComplexTypeProperty'],
  ['60_associationend.pjson', 'AssociationEnd'],
  ['70_userdata.pjson', 'UserData'],
  ['80_link.pjson', 'link'],
] as const;

export type PjsonFile = (typeof pjsonFiles)[number][0];

export interface SnapshotManifest {
  export_version: number;
  unit_url: string;
  /** Epoch milliseconds. */
  create_date: number;
  [extra: string]: unknown;
}

export type SnapshotChecksums = Record<string, { size: number; sha256: string }>;

/** One line of a `.pjson` file: an Elasticsearch hit as Personium exports it. */
export interface PjsonLine {
  _type: string;
  _id: string;
  _source: Record<string, unknown>;
}
