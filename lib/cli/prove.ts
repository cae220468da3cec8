import * as fs from 'node:fs';
import { readPrivateKeyFile } from '../crypto/keyfile';
import { ANCHOR_RECORD, parseAnchorBody } from '../anchor/record';
import { LedgerError } from '../errors';
import { Ledger } from '../ledger';
import { intFlag, parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';
import { cosignedProofBundle } from '../witness/bundle';

export const proveUsage =
  'iot-ledger prove DIR INDEX [--out FILE] [--height H | --anchored] [--key GATEWAY_KEY_FILE]\n' +
  '  iot-ledger prove DIR --consistency FROM_SIZE [TO_SIZE] [--out FILE] [--key GATEWAY_KEY_FILE]';

/**
 * Prints (or writes) the proof bundle of a record under the newest cosigned checkpoint that
 * covers it (else the latest checkpoint), or under block H; with --consistency, the
 * consistency bundle between the checkpoints at two tree sizes (the second by default the
 * latest). With --key the ledger is opened for writing and pending records are sealed first.
 */
export async function prove(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['anchored']);
  const from = intFlag(args, 'consistency');
  const [dir, second] = args.positional;
  if (from === undefined ? args.positional.length !== 2 || !/^\d+$/.test(second) : args.positional.length < 1 || args.positional.length > 2)
    throw new UsageError(proveUsage);
  if (from !== undefined && second !== undefined && !/^\d+$/.test(second)) throw new UsageError('TO_SIZE must be a non-negative integer');
  if (from !== undefined && args.flags.height !== undefined) throw new UsageError('--height does not apply to --consistency (name the tree sizes)');
  if (from !== undefined && args.flags.anchored !== undefined) throw new UsageError('--anchored does not apply to --consistency (name the tree sizes)');
  const out = stringFlag(args, 'out');
  let height = intFlag(args, 'height');
  const anchored = args.flags.anchored === true;
  if (anchored && height !== undefined) throw new UsageError('give --height or --anchored, not both');
  const keyFile = stringFlag(args, 'key');
  const ledger = keyFile
    ? await Ledger.open(dir, { gatewayKey: readPrivateKeyFile(keyFile) })
    : await Ledger.open(dir, { readOnly: true });
  try {
    let json: string;
    let what: string;
    if (from === undefined) {
      // Under the checkpoint of the latest `anchor` record, so verify-proof --anchor finds it on the chain.
      if (anchored) height = await latestAnchoredHeight(ledger, Number(second));
      const bundle = height === undefined ? await cosignedProofBundle(ledger, Number(second)) : await ledger.proofBundle(Number(second), height);
      json = `${JSON.stringify(bundle, null, 2)}\n`;
      what = `the proof of record ${bundle.index}`;
    } else {
      if (keyFile && second === undefined) await ledger.seal();
      const bundle = await ledger.consistencyBundle(from, second === undefined ? undefined : Number(second));
      json = `${JSON.stringify(bundle, null, 2)}\n`;
      what = `the consistency proof from tree size ${from} to ${second ?? 'the latest checkpoint'}`;
    }
    if (out) {
      fs.writeFileSync(out, json);
      io.stderr(`wrote ${what} to ${out}\n`);
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
