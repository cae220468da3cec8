import { deviceHistory, deviceRejections, type FirmwareState } from '../firmware';
import { loadFirmwareState } from '../gateway/firmware-runner';
import { Ledger } from '../ledger';
import { printable } from '../encoding/printable';
import { parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';
import { isoTime as iso } from '../encoding/iso-time';

export const firmwareUsage =
  'iot-ledger firmware history DIR [--device DID] [--json]   (--json: a list of {device, versions, rejections, omittedVersions?, omittedRejections?})';

/** How much older history the state counted but did not keep (fields only when there is some). */
function omitted(state: FirmwareState, did: string): { omittedVersions?: number; omittedRejections?: number } {
  const d = state.device(did);
  return {
    ...(d?.spansOmitted ? { omittedVersions: d.spansOmitted } : {}),
    ...(d?.rejectionsOmitted ? { omittedRejections: d.rejectionsOmitted } : {}),
  };
}

/** Every version each device ran (the most recent 1000), from when to when and approved by whom, from the ledger alone. */
export async function firmware(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['json']);
  const [sub, dir, ...rest] = args.positional;
  if (sub !== 'history' || !dir || rest.length) throw new UsageError(firmwareUsage);
  const ledger = await Ledger.open(dir, { readOnly: true });
  try {
    const state = await loadFirmwareState(ledger);
    const only = stringFlag(args, 'device');
    const devices = only ? [only] : state.devices();
    const report = devices.map((did) => ({ device: did, versions: deviceHistory(state, did), rejections: deviceRejections(state, did), ...omitted(state, did) }));
    if (args.flags.json === true) {
      // One JSON document, an empty list when the ledger has no firmware records.
      io.stdout(`${JSON.stringify(report)}\n`);
      return 0;
    }
    // Devices, versions, classes, signers and reasons come from the ledger's records: each line is
    // shown with its control and bidi characters escaped, so none can move the cursor or start a line.
    const line = (text: string): void => io.stdout(`${printable(text)}\n`);
    if (report.length === 0) line('no firmware records');
    for (const r of report) {
      line(r.device);
      if (r.omittedVersions) line(`  ... ${r.omittedVersions} earlier versions not kept`);
      for (const v of r.versions) {
        const until = v.to ? `${iso(v.to.time)} (#${v.to.index})` : 'now';
        const by = v.approvedBy ? `approved #${v.approvedBy.index}, signed by ${v.approvedBy.signer}` : `reported by the device`;
        line(`  ${v.version} (seq ${v.sequence}, ${v.class})  ${iso(v.from.time)} (#${v.from.index}) → ${until}  ${by}`);
      }
      if (r.omittedRejections) line(`  ... ${r.omittedRejections} earlier rejections not kept`);
      for (const j of r.rejections) line(`  rejected #${j.at.index} ${iso(j.at.time)}: ${j.reason}${j.sequence !== undefined ? ` (seq ${j.sequence})` : ''}`);
    }
    return 0;
  } finally {
    await ledger.close();
  }
}
