import * as fs from 'node:fs';
import { readPrivateKeyFile } from '../keyfile';
import { Ledger } from '../ledger';
import { intFlag, parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';
import { cosignedProofBundle } from '../witness/bundle';

export const proveUsage = 'iot-ledger prove DIR INDEX [--out FILE] [--height H] [--key GATEWAY_KEY_FILE]';

/**
 * Prints (or writes) the proof bundle of a record under the newest cosigned checkpoint that
 * covers it (else the latest checkpoint), or under block H. With --key the ledger is opened for writing and pending records are sealed first.
 */
export async function prove(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv);
  const [dir, indexArg] = args.positional;
  if (args.positional.length !== 2 || !/^\d+$/.test(indexArg)) throw new UsageError(proveUsage);
  const out = stringFlag(args, 'out');
  const height = intFlag(args, 'height');
  const keyFile = stringFlag(args, 'key');
  const ledger = keyFile
    ? await Ledger.open(dir, { gatewayKey: readPrivateKeyFile(keyFile) })
    : await Ledger.open(dir, { readOnly: true });
  try {
    const bundle = height === undefined ? await cosignedProofBundle(ledger, Number(indexArg)) : await ledger.proofBundle(Number(indexArg), height);
    const json = `${JSON.stringify(bundle, null, 2)}\n`;
    if (out) {
      fs.writeFileSync(out, json);
      io.stderr(`wrote the proof of record ${bundle.index} to ${out}\n`);
    } else io.stdout(json);
  } finally {
    await ledger.close();
  }
  return 0;
}
