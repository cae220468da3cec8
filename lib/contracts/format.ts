/** One human line per contract event, for the CLI, node status texts and logs. */
import type { ContractEvent, ContractState } from './evaluator';
import { formatTime } from './time';
import { counted } from '../counted';

/** A number for people: at most 3 decimals, no trailing zeros. */
export function formatNumber(n: number): string {
  const r = Number(n.toFixed(3)) + 0;
  return String(r);
}

function withUnit(n: number, unit: string | undefined): string {
  return unit ? `${formatNumber(n)} ${unit}` : formatNumber(n);
}

function signed(n: number, unit: string | undefined): string {
  const s = withUnit(n, unit);
  return n > 0 || Object.is(Number(n.toFixed(3)) + 0, 0) ? `+${s}` : s;
}

/** "2026-11-25T10:32:00Z violation consecutive 300 s peak +2.1 °C" */
export function formatEvent(e: ContractEvent, unit?: string): string {
  const at = e.time === null ? '-' : formatTime(e.time);
  switch (e.type) {
    case 'excursion.started':
      return `${at} ${e.type} value ${withUnit(e.value, unit)} limit ${withUnit(e.limit, unit)}`;
    case 'excursion.ended':
      return `${at} ${e.type} ${formatNumber(e.seconds)} s peak ${signed(e.peak, unit)}`;
    case 'violation':
      return `${at} violation ${e.mode} ${formatNumber(e.seconds)} s${e.windowSeconds !== undefined ? ` in ${formatNumber(e.windowSeconds)} s` : ''} peak ${signed(e.peak, unit)}`;
    case 'compliance.restored':
      return `${at} ${e.type} value ${withUnit(e.value, unit)} after ${formatNumber(e.excursionSeconds)} s`;
    case 'data.gap':
      return `${at} ${e.type} ${formatNumber(e.seconds)} s since ${formatTime(e.since)}${e.ongoing ? ' (ongoing)' : ''}`;
    case 'data.resumed':
      return `${at} ${e.type} after ${formatNumber(e.seconds)} s`;
    case 'mkt.exceeded':
    case 'mkt.restored':
      return `${at} ${e.type} ${e.mkt === null ? '-' : formatNumber(e.mkt)} °C limit ${formatNumber(e.limit)} °C over ${formatNumber(e.windowSeconds)} s`;
    case 'reading.rejected':
      return `${at} ${e.type} ${e.reason}: ${e.detail}${e.device !== undefined ? ` (device ${e.device})` : ''}`;
  }
}

/** "compliant; 120 readings, 1 rejected, 2 excursions, 1 violation, 0 gaps; mean 3.2 °C, MKT 4.1 °C" */
export function formatSummary(s: ContractState, unit?: string): string {
  const c = s.counters;
  const parts = [
    `${counted(c.readings, 'reading')}, ${c.rejected} rejected, ${counted(c.excursions, 'excursion')}, ${counted(c.violations, 'violation')}, ${counted(c.gaps, 'gap')}`,
  ];
  const w = s.window;
  if (w.mean !== null && w.min !== null && w.max !== null)
    parts.push(`window min ${withUnit(w.min, unit)}, max ${withUnit(w.max, unit)}, mean ${withUnit(w.mean, unit)}${w.mkt !== null ? `, MKT ${formatNumber(w.mkt)} °C` : ''}`);
  return `${s.status}; ${parts.join('; ')}`;
}
