import { Ledger } from '../ledger';
import { toBase64 } from '../encoding/bytes';
import { onePositional, parseArgs } from './args';
import type { CliIo } from './io';
import { describeStorage } from '../storage/open';
import { describeEd25519, ed25519Backend } from '../crypto/ed25519';
import { isoTime } from '../encoding/iso-time';
import { printable } from '../encoding/printable';

export const infoUsage = 'iot-ledger info DIR [--json]';

/** Name, size, blocks, latest checkpoint, gateway did:key and verifier key of a ledger. */
export async function info(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['json']);
  const ledger = await Ledger.open(onePositional(args, infoUsage), { readOnly: true });
  try {
    const latest = await ledger.latestBlock();
    const report = {
      name: ledger.name,
      size: ledger.size,
      blocks: ledger.height,
      pending: ledger.pending,
      gateway: ledger.gatewayDid,
      verifier: ledger.verifierKey,
      storage: ledger.storage.kind,
      ed25519: ed25519Backend().backend,
      latest: latest
        ? {
            height: latest.height,
            size: latest.header.size,
            root: toBase64(latest.header.root),
            time: isoTime(latest.header.time),
            checkpoint: latest.checkpoint,
          }
        : null,
    };
    if (args.flags.json === true) io.stdout(`${JSON.stringify(report)}\n`);
    else {
      const lines = [
        `name:     ${report.name}`,
        `size:     ${report.size} record(s)`,
        `blocks:   ${report.blocks}${report.pending ? ` (${report.pending} record(s) not yet in a block)` : ''}`,
        `gateway:  ${report.gateway}`,
        `verifier: ${report.verifier}`,
        `storage:  ${describeStorage(ledger.storage)}`,
        `ed25519:  ${describeEd25519()}`,
      ];
      if (report.latest) {
        lines.push(`latest checkpoint (block ${report.latest.height}, ${report.latest.time}):`);
        for (const l of report.latest.checkpoint.replace(/\n$/, '').split('\n')) lines.push(`  ${l}`);
      } else lines.push('latest checkpoint: none yet');
      // The name, and the checkpoint naming it, come from the ledger: shown with control and bidi characters escaped.
      io.stdout(`${lines.map(printable).join('\n')}\n`);
    }
  } finally {
    await ledger.close();
  }
  return 0;
}
