import { Ledger } from '../ledger';
import { intFlag, onePositional, parseArgs } from './args';
import type { CliIo } from './io';
import { recordView } from '../ledger/view';

export const exportUsage = 'iot-ledger export DIR [--from I] [--to J]';

/** Prints records [I, J) as JSON lines a person can read. */
export async function exportRecords(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv);
  const dir = onePositional(args, exportUsage);
  const from = intFlag(args, 'from') ?? 0;
  const to = intFlag(args, 'to');
  const ledger = await Ledger.open(dir, { readOnly: true });
  try {
    for await (const r of ledger.range(from, to)) io.stdout(`${JSON.stringify(recordView(r))}\n`);
  } finally {
    await ledger.close();
  }
  return 0;
}
