import { migrateLedger } from '../ledger';
import { parseArgs, UsageError } from './args';
import type { CliIo } from './io';

export const migrateUsage = 'iot-ledger migrate DIR';

/** Converts a ledger directory written by an older version to the current storage format, in place. */
export async function migrate(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, []);
  if (args.positional.length !== 1) throw new UsageError(migrateUsage);
  const r = await migrateLedger(args.positional[0]);
  io.stdout(r.from === r.to ? `already in storage format ${r.to}\n` : `migrated from storage format ${r.from} to ${r.to}: ${r.nodes} Merkle node(s) rewritten\n`);
  return 0;
}
