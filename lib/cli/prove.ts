import * as fs from 'node:fs';
import { readPrivateKeyFile } from '../keyfile';
import { ANCHOR_RECORD, parseAnchorBody } from '../anchor/record';
import { LedgerError } from '../errors';
import { Ledger } from '../ledger';
import { intFlag, parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';

export const proveUsage = 'iot-ledger prove DIR INDEX [--out FILE] [--height H | --anchored] [--key GATEWAY_KEY_FILE]';

/**
 * Prints (or writes) the proof bundle of a record under the latest checkpoint, or under
 * block H. With --key the ledger is opened for writing and pending records are sealed first.
 */
export async function prove(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['anchored']);
  const [dir, indexArg] = args.positional;
  if (args.positional.length !== 2 || !/^\d+$/.test(indexArg)) throw new UsageError(proveUsage);
  const out = stringFlag(args, 'out');
  let height = intFlag(args, 'height');
  const anchored = args.flags.anchored === true;
  if (anchored && height !== undefined) throw new UsageError('give --height or --anchored, not both');
  const keyFile = stringFlag(args, 'key');
  const ledger = keyFile
    ? await Ledger.open(dir, { gatewayKey: readPrivateKeyFile(keyFile) })
    : await Ledger.open(dir, { readOnly: true });
  try {
    // Under the checkpoint of the latest `anchor` record, so verify-proof --anchor finds it on the chain.
    if (anchored) height = await latestAnchoredHeight(ledger, Number(indexArg));
    const bundle = await ledger.proofBundle(Number(indexArg), height);
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

async function latestAnchoredHeight(ledger: Ledger, index: number): Promise<number> {
  for await (const r of ledger.byType(ANCHOR_RECORD, { reverse: true })) {
    let body;
    try {
      body = parseAnchorBody(r.record.body);
    } catch {
      continue;
    }
    if (body.size <= index)
      throw new LedgerError('ERR_NOT_FOUND', `record ${index} is not anchored yet: the latest anchor covers records 0..${body.size - 1}`, { index });
    return body.height;
  }
  throw new LedgerError('ERR_NOT_FOUND', 'the ledger holds no anchor record');
}
