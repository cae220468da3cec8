import type { AuditReport } from '../../lib/audit';
import { formatCount } from './status';

export function auditStatusText(report: AuditReport): string {
  if (report.clean) return `audit clean · ${formatCount(report.size)} records`;
  const f = report.findings[0];
  const where = f?.index !== undefined ? `#${f.index}` : f?.height !== undefined ? `block ${f.height}` : (f?.kind ?? 'an unknown place');
  return `TAMPERED at ${where}`;
}

