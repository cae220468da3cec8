import { migrateLedger } from '../ledger';
import { onePositional, parseArgs } from './args';
import type { CliIo } from './io';

export const migrateUsage = 'iot-ledger migrate DIR';

/** Converts a ledger directory written by an older version (storage format 1, 2 or 3) to the current format 4, in place. */
export async function migrate(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, []);
  const r = await migrateLedger(onePositional(args, migrateUsage));
  io.stdout(
    r.from === r.to
      ? `already in storage format ${r.to}\n`
      : `migrated from storage format ${r.from} to ${r.to}: ${r.nodes} Merkle node(s) rewritten, ${r.summaries} block summary(ies) written, ${r.removed} index entry(ies) removed, ${r.lowNodes} low Merkle node(s) removed\n`,
  );
  return 0;
}
