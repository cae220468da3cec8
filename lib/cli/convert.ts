import { auditLedger, formatReport } from '../audit';
import { convertLedger } from '../ledger/convert';
import { parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';

export const convertUsage = 'iot-ledger convert SRC DST [--to file|leveldb]   (copies a ledger to the other storage backend, then audits the copy)';

const label = (k: string): string => (k === 'file' ? 'file storage' : 'LevelDB');

/** Copies SRC into the new directory DST in the other backend and audits DST: 0 clean, 1 findings. */
export async function convert(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, []);
  for (const name of Object.keys(args.flags)) if (name !== 'to') throw new UsageError(`unknown option --${name}`);
  const to = stringFlag(args, 'to');
  if (to !== undefined && to !== 'file' && to !== 'leveldb') throw new UsageError('--to must be file or leveldb');
  const [src, dst] = args.positional;
  if (!src || !dst || args.positional.length !== 2) throw new UsageError('give the source ledger and a new destination directory');
  const r = await convertLedger(src, dst, to);
  io.stdout(`copied ${r.keys} keys from ${label(r.from)} to ${label(r.to)}; auditing the copy\n`);
  const report = await auditLedger(dst);
  io.stdout(formatReport(report));
  return report.clean ? 0 : 1;
}
