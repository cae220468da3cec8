// Human-readable audit reports (the CLI's default output).
import type { AuditReport, Finding } from './types';
import { counted } from '../counted';
import { isoTime } from '../encoding/iso-time';
import { printable } from '../encoding/printable';

function where(f: Finding): string {
  const parts: string[] = [];
  if (f.index !== undefined) parts.push(`record ${f.index}`);
  if (f.height !== undefined) parts.push(`block ${f.height}`);
  if (f.time !== undefined) parts.push(isoTime(f.time));
  if (f.device !== undefined) parts.push(printable(f.device));
  return parts.length > 0 ? parts.join(', ') : 'ledger';
}

/** One line: what the ledger says (device ids, names, decoded values) is shown with its control characters escaped. */
export function formatFinding(f: Finding): string {
  return `${printable(f.kind)} at ${where(f)}: ${printable(f.detail)}`;
}

function cosignedLine(c: AuditReport['cosigned']): string {
  const per = c.witnesses.map((w) => `${printable(w.name)} ${counted(w.blocks, 'block')}${w.newest ? `, newest ${w.newest.height}` : ''}`);
  const unchecked = c.unchecked > 0 ? `; ${c.unchecked} not checked (${c.witnesses.length > 0 ? 'witnesses not given' : 'pass --witness keys to check them'})` : '';
  const unreadable = c.unreadable > 0 ? `; ${counted(c.unreadable, 'block')} unreadable, ${c.unreadable === 1 ? 'its' : 'their'} cosignatures not checked` : '';
  return `witness cosignatures on ${counted(c.entries, 'block')}: ${c.verified} verified${per.length > 0 ? ` (${per.join('; ')})` : ''}${unchecked}${unreadable}`;
}

/** A few lines for people: verdict, what was checked, then the findings, first failure first. */
export function formatReport(r: AuditReport): string {
  const lines: string[] = [];
  const verdict = r.clean ? 'CLEAN' : `${r.findings.length + r.omitted} FINDING${r.findings.length + r.omitted === 1 ? '' : 'S'}`;
  lines.push(`${verdict}: ledger "${printable(r.name)}", ${counted(r.size, 'record')} in ${counted(r.blocks, 'block')}${r.from > 0 ? `, audited from record ${r.from}` : ''}`);
  lines.push(
    `checked ${r.checked.records} records, ${r.checked.nodes} nodes, ${r.checked.blocks} blocks, ${r.checked.signatures} signatures in ${r.durationMs} ms (${r.storage === 'file' ? 'file storage' : 'LevelDB'})`,
  );
  lines.push(`gateway key (${r.trust === 'given' ? 'given' : "from the ledger's own meta: pass --key to check against a key you trust"}): ${printable(r.verifier ?? 'none')}`);
  const sec = r.security;
  if (sec && sec.records > 0) {
    const codes = Object.entries(sec.byCode).map(([code, n]) => `${printable(code)} ${n}`).join(', ');
    lines.push(`${sec.rejections} rejected messages in ${sec.records} security records: ${codes}`);
  }
  const cos = r.cosigned;
  if (cos && (cos.entries > 0 || cos.witnesses.length > 0)) lines.push(cosignedLine(cos));
  const torn = r.tornTail;
  if (torn)
    lines.push(
      `file storage: the last ${counted(torn.bytes, 'byte')} of segment ${torn.segment} (from offset ${torn.offset}) are no whole write (${torn.why}): a write cut off by a crash, or damage; not read, and left as they are`,
    );
  if (r.unsealed > 0) lines.push(`${r.unsealed} records after the last block are not yet under a signed checkpoint`);
  if (!r.clean) {
    lines.push('');
    r.findings.forEach((f, i) => lines.push(`${i === 0 ? 'first failure: ' : '               '}${formatFinding(f)}`));
    if (r.omitted > 0) lines.push(`... and ${r.omitted} more`);
  }
  return `${lines.join('\n')}\n`;
}
