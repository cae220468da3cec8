import type { ContractState } from '../../lib/contracts';
import type { NodeStatus } from './red';
import { status, type Translate } from './status';

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const clock = (t: number): string => new Date(t).toISOString().slice(11, 16);

/** "compliant -21.3 °C", "EXCURSION 3m12s", "VIOLATED since 10:32", "no data 5m". */
export function contractStatus(t: Translate, state: ContractState, unit: string | undefined, now: number, maxGapSeconds?: number): NodeStatus {
  const u = unit ? ` ${unit}` : '';
  if (state.status === 'no-data' || !state.last) return status.waiting(t('iot-ledger-contract.status.noDataYet'));
  if (maxGapSeconds !== undefined && now - state.last.time > maxGapSeconds * 1000)
    return status.warn(t('iot-ledger-contract.status.noData', { duration: duration(now - state.last.time) }));
  if (state.status === 'violated') return status.error(t('iot-ledger-contract.status.violated', { time: clock(state.excursion?.start ?? state.last.time) }));
  if (state.status === 'excursion') return status.warn(t('iot-ledger-contract.status.excursion', { duration: duration(now - (state.excursion?.start ?? now)) }));
  return status.ok(t('iot-ledger-contract.status.compliant', { value: `${state.last.value}${u}` }));
}
