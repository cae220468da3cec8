import type { AuditReport } from '../../lib/audit';
import { formatCount, type Translate } from './status';

export function auditStatusText(t: Translate, report: AuditReport): string {
  if (report.clean) return t('iot-ledger-audit.status.clean', { count: formatCount(report.size) });
  const f = report.findings[0];
  const where = f.index !== undefined ? `#${f.index}` : f.height !== undefined ? `block ${f.height}` : f.kind;
  return t('iot-ledger-audit.status.tampered', { where });
}

