import { Ledger } from '../ledger';
import { intFlag, parseArgs, UsageError } from './args';
import type { CliIo } from './io';
import { recordView } from './ledger-view';

export const exportUsage = 'iot-ledger export DIR [--from I] [--to J]';

/** Prints records [I, J) as JSON lines a person can read. */
export async function exportRecords(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv);
  if (args.positional.length !== 1) throw new UsageError(exportUsage);
  const from = intFlag(args, 'from') ?? 0;
  const to = intFlag(args, 'to');
  const ledger = await Ledger.open(args.positional[0], { readOnly: true });
  try {
    for await (const r of ledger.range(from, to)) io.stdout(`${JSON.stringify(recordView(r))}\n`);
  } finally {
    await ledger.close();
  }
  return 0;
}
