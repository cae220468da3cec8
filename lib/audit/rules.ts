// The rules the gateway applied, applied again: contracts are re-run over their recorded
// inputs and firmware decisions re-checked, in ledger order. A recorded verdict or decision
// that does not follow is a finding at that record.
import { ContractRechecker } from '../contracts/records';
import { FirmwareState, recheckRecord, type Envelope } from '../firmware';
import type { DeviceEvent } from './chunk';
import type { DeviceChecker } from './devices';
import { Findings, recordPos } from './findings';

export class RuleChecker {
  // Each mismatch goes straight to the findings, which keep a bounded number of them.
  readonly #contracts = new ContractRechecker({
    maxMismatches: 0,
    onMismatch: (m) => this.#add(m.index, this.#time, undefined, 'contract-verdict', `contract ${m.contract}, record ${m.index}: ${m.detail}`),
  });
  // The re-checks read what a device runs, its floor and approvals, never its past spans or
  // rejections, and the report lists none: keep no history, so it cannot grow with the records.
  readonly #firmware = new FirmwareState({ historyLimit: 0 });
  readonly #findings: Findings;
  readonly #devices: DeviceChecker;
  #time: number | undefined;
  #last = 0;

  constructor(findings: Findings, devices: DeviceChecker) {
    this.#findings = findings;
    this.#devices = devices;
  }

  apply(ev: DeviceEvent): void {
    if (!ev.rule) return;
    this.#last = ev.index;
    const body = ev.rule.body;
    if (ev.type.startsWith('contract.')) {
      this.#time = ev.time;
      this.#contracts.apply(ev.type, body, ev.index, ev.time);
      return;
    }
    const isEnrolled = (did: string) => this.#devices.registry.status(did) === 'enrolled';
    const record: { type: string; time: number; body?: unknown; envelope?: Envelope } = { type: ev.type, time: ev.time, body };
    if (ev.rule.envelope !== undefined) record.envelope = ev.rule.envelope;
    const r = recheckRecord(this.#firmware, record, { isEnrolled });
    if (!r.ok) this.#add(ev.index, ev.time, ev.device, 'firmware-decision', `${ev.type} record ${ev.index} does not follow the firmware rules: ${r.message ?? r.reason ?? 'mismatch'}`);
    try {
      this.#firmware.apply(ev.type, body, ev.index, ev.time);
    } catch (err) {
      this.#add(ev.index, ev.time, ev.device, 'record-decode', `${ev.type} record ${ev.index}: ${(err as Error).message}`);
    }
  }

  finish(): void {
    this.#time = undefined;
    this.#contracts.finish(this.#last);
  }

  /** What the re-checks hold of what records add (for tests: it must not grow with the records). */
  get held(): { mismatches: number; spans: number; rejections: number } {
    let spans = 0;
    let rejections = this.#firmware.rejections().length;
    for (const did of this.#firmware.devices()) {
      const d = this.#firmware.device(did);
      spans += d?.spans.length ?? 0;
      rejections += d?.rejections.length ?? 0;
    }
    return { mismatches: this.#contracts.mismatches.length, spans, rejections };
  }

  #add(index: number, time: number | undefined, device: string | undefined, kind: string, detail: string): void {
    this.#findings.add(recordPos(index), { kind, index, ...(time !== undefined ? { time } : {}), ...(device ? { device } : {}), detail });
  }
}
