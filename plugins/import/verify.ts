// Offline verification of a snapshot file (`cellar snapshot verify`): every check an import makes,
// in the order it makes them, through the same functions (inspect.ts before the 202, then
// snapshot-checks.ts and the entry reads of entry-writer.ts for the job), with nothing written.
// A snapshot that passes is one an import with the same limits takes.
import { stat } from 'node:fs/promises';
import { bodyOf, type PersoniumErrorBody } from '../../core/errors.ts';
import { checksumsEntry, webdavFolder, type SnapshotManifest } from '../../core/export-format.ts';
import { digestEntry } from './entry-writer.ts';
import { inspectSnapshot, openZip, type ImportLimits } from './inspect.ts';
import { checkFileDigest, pmetaOwnerIds, readOData, readOwnerPmeta, requireListed, targetSegments, verifyListing, walkEntries } from './snapshot-checks.ts';

/** What the verification found, as far as it got. */
export interface SnapshotFindings {
  file: string;
  /** Size of the file itself. */
  fileBytes: number;
  entries: number;
  folders: number;
  files: number;
  /** Bytes the snapshot expands to. */
  expandedBytes: number;
  manifest?: Pick<SnapshotManifest, 'export_version' | 'cell_name' | 'unit_url' | 'create_date' | 'generator'>;
  /** `sha256`: every file held to 00_checksums.json; `crc32`: no such list, each entry to its own CRC-32. */
  checksums?: 'sha256' | 'crc32';
  boxes?: string[];
  /** Files whose data was read and held to their checksum. */
  filesChecked: number;
}

export type SnapshotVerdict = { importable: true; findings: SnapshotFindings } | { importable: false; findings: SnapshotFindings; error: PersoniumErrorBody };

/** The target cell id the OData ids are mapped to; any id does, nothing is written. */
const verifyingCellId = 'verify';

export async function verifySnapshot(file: string, limits: ImportLimits): Promise<SnapshotVerdict> {
  const findings: SnapshotFindings = { file, fileBytes: 0, entries: 0, folders: 0, files: 0, expandedBytes: 0, filesChecked: 0 };
  try {
    findings.fileBytes = (await stat(file)).size;
    const snapshot = await inspectSnapshot(file, limits);
    const { export_version, cell_name, unit_url, create_date, generator } = snapshot.manifest;
    findings.manifest = { export_version, cell_name, unit_url, create_date, generator };
    findings.checksums = snapshot.checksums ? 'sha256' : 'crc32';
    findings.expandedBytes = snapshot.totalBytes;
    const zip = await openZip(file);
    try {
      findings.entries = zip.entryCount;
      await verifyListing(zip, snapshot);
      const odata = await readOData(zip, snapshot, verifyingCellId);
      findings.boxes = odata.document.boxes.map((box) => box.Name);
      for (const entry of walkEntries(zip)) {
        const name = entry.fileName;
        if (name.endsWith('/')) findings.folders += 1;
        else findings.files += 1;
        if (!name.startsWith(webdavFolder)) continue;
        const below = name.slice(webdavFolder.length);
        // Folders too: one of a box no box line names is refused as the import refuses it.
        targetSegments(below, odata.boxIds);
        if (name.endsWith('/')) continue;
        const ownerIds = pmetaOwnerIds(below, odata);
        if (ownerIds) await readOwnerPmeta(zip, entry, snapshot.checksums, ownerIds);
        else {
          const slot = requireListed(name, snapshot.checksums);
          checkFileDigest(entry, await digestEntry(zip, entry), snapshot.checksums, slot);
        }
        findings.filesChecked += 1;
      }
    } finally {
      zip.close();
    }
    return { importable: true, findings };
  } catch (error) {
    return { importable: false, findings, error: bodyOf(error) };
  }
}

/** The findings as lines for a person. */
export function describeFindings(verdict: SnapshotVerdict): string[] {
  const { findings } = verdict;
  const lines = [`${findings.file}: ${findings.fileBytes} bytes`];
  if (findings.manifest) {
    const { cell_name, unit_url, create_date, generator, export_version } = findings.manifest;
    const made = typeof create_date === 'number' ? new Date(create_date).toISOString() : 'unknown';
    lines.push(`manifest: export_version ${export_version}, cell ${cell_name ?? 'unnamed'}, unit ${unit_url ?? 'unknown'}, made ${made}${generator ? ` by ${generator}` : ''}`);
    lines.push(`layout: ${findings.expandedBytes} bytes expanded, within the limits`);
  }
  if (findings.checksums) {
    lines.push(findings.checksums === 'sha256'
      ? `checksums: every file held to its size and SHA-256 in ${checksumsEntry}`
      : `checksums: no ${checksumsEntry} (as Personium makes them): every file held to its CRC-32 and size`);
  }
  if (findings.boxes) lines.push(`boxes: ${findings.boxes.length ? findings.boxes.join(', ') : 'none but the main box'}`);
  if (findings.entries) lines.push(`entries: ${findings.entries} (${findings.folders} folders, ${findings.files} files; ${findings.filesChecked} WebDAV files read and checked)`);
  lines.push(verdict.importable ? 'the snapshot would import' : `refused: ${verdict.error.code} ${verdict.error.message.value}`);
  return lines;
}
