import { Ledger } from '../ledger';
import { writeStaticTiles } from '../tiles';
import { parseArgs, twoPositionals, UsageError } from './args';
import type { CliIo } from './io';
import { counted } from '../counted';

export const tilesUsage = 'iot-ledger tiles DIR OUTDIR';

/** Writes the ledger's C2SP tlog-tiles (up to its latest checkpoint) as static files under OUTDIR. */
export async function tiles(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv);
  if (Object.keys(args.flags).length > 0) throw new UsageError(`unknown option --${Object.keys(args.flags)[0]}`);
  const [dir, outDir] = twoPositionals(args, 'give the ledger directory and the output directory');
  const ledger = await Ledger.open(dir, { readOnly: true });
  try {
    const r = await writeStaticTiles(ledger, outDir);
    io.stdout(r ? `wrote ${counted(r.written, 'file')}: ${counted(r.size, 'record')} in ${counted(r.height, 'block')}\n` : 'no block sealed yet: nothing to publish\n');
  } finally {
    await ledger.close();
  }
  return 0;
}
